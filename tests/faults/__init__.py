"""The fault suite of issue 12 (see docs/security.md, "Fault suite")."""
