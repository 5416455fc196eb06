"""Entity annotations in manifest references: inline markup and the JSON column."""

from __future__ import annotations

import pytest

from asr_eval.annotations import entities_from_json, parse_entity_markup
from asr_eval.types import EntitySpan


@pytest.mark.parametrize("raw,plain,spans", [
    ("Please call [Siobhan Nguyen](person) back", "Please call Siobhan Nguyen back", (EntitySpan("Siobhan Nguyen", "person"),)),
    ("[Klarvo](product) and [Aroha  Te Whata](person).", "Klarvo and Aroha Te Whata.",
     (EntitySpan("Klarvo", "product"), EntitySpan("Aroha Te Whata", "person"))),
    ("no markup here", "no markup here", ()),
    ("[inaudible] stays for the normaliser", "[inaudible] stays for the normaliser", ()),
    ("[O'Brien](person.surname)", "O'Brien", (EntitySpan("O'Brien", "person.surname"),)),
])
def test_markup(raw, plain, spans):
    assert parse_entity_markup(raw) == (plain, spans)


@pytest.mark.parametrize("raw,message", [
    ("call [Siobhan](1person)", "must start with a letter"),
    ("call [Siobhan]() now", "must start with a letter"),
    ("call [  ](person)", "empty entity text"),
    ("call [Siobhan](person", "unbalanced"),
])
def test_malformed_markup_is_an_error(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_entity_markup(raw)


def test_json_column():
    assert entities_from_json('[{"text": "Siobhan  Nguyen", "label": "person"}, {"text": "Klarvo", "label": "product"}]') == (
        EntitySpan("Siobhan Nguyen", "person"), EntitySpan("Klarvo", "product"))
    assert entities_from_json("") == () and entities_from_json("[]") == ()


@pytest.mark.parametrize("raw,message", [
    ("[{", "not valid JSON"),
    ('{"text": "x", "label": "y"}', "must be a JSON list"),
    ('["Siobhan"]', "must be an object"),
    ('[{"label": "person"}]', "non-empty string 'text'"),
    ('[{"text": "Siobhan"}]', "needs a 'label'"),
])
def test_malformed_json_is_an_error(raw, message):
    with pytest.raises(ValueError, match=message):
        entities_from_json(raw)
