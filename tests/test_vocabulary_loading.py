import pytest

from asr_eval.types import InputError
from asr_eval.vocab import load_dictionary, load_directory


def test_dictionary_csv_columns(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(
        "term,display,aliases,sounds_like,category,priority,owner\n"
        "postgres,PostgreSQL,Postgres|postgre SQL,post gres q l,tool,2,data\n"
        "Klarvo,,,clar vo,product,,\n"
    )
    v = load_dictionary(p)
    pg, kl = v.terms
    assert pg.display == "PostgreSQL"
    assert pg.aliases == ("postgres", "Postgres", "postgre SQL")
    assert pg.sounds_like == ("post gres q l",)
    assert pg.priority == 2 and pg.category == "tool" and pg.meta == {"owner": "data"}
    assert kl.display == "Klarvo" and kl.priority == 0 and kl.line == 3
    assert v.kind == "dictionary" and len(v.sha256) == 64


def test_dictionary_txt_and_yaml(tmp_path):
    t = tmp_path / "d.txt"
    t.write_text("# comment\nKlarvo\n\nPayNimbus\n")
    assert [x.display for x in load_dictionary(t).terms] == ["Klarvo", "PayNimbus"]
    y = tmp_path / "d.yaml"
    y.write_text("terms:\n  - Klarvo\n  - term: OAuth\n    aliases: [oauth, O auth]\n    category: acronym\n")
    terms = load_dictionary(y).terms
    assert terms[1].aliases == ("oauth", "O auth") and terms[1].category == "acronym"


@pytest.mark.parametrize(
    "content, message, line",
    [
        ("display,category\n,product\n", "empty term", 2),
        ("term,priority\nKlarvo,high\n", "priority must be an integer", 2),
        ("term\nKlarvo\nklarvo\n", "duplicate of 'Klarvo' (PATH:2)", 3),
        ("name\nKlarvo\n", "missing column 'term'", 1),
        ("term,category\nKlarvo,product,extra\n", "fields, header has 2", 2),
    ],
)
def test_dictionary_errors_name_file_and_line(tmp_path, content, message, line):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        load_dictionary(p)
    assert message.replace("PATH", str(p)) in str(e.value)
    assert e.value.line == line and e.value.path == str(p)


def test_directory_people_become_name_terms(tmp_path):
    p = tmp_path / "people.csv"
    p.write_text(
        "first,last,display,aliases,department\n"
        "Siobhan,Nguyen,,Shiv Nguyen,Support\n"
        "Saoirse,Ni Bhraonain,Saoirse Ní Bhraonáin,,Sales\n"
    )
    v = load_directory(p)
    a, b = v.terms
    assert a.display == "Siobhan Nguyen" and a.category == "person" and a.source == "directory"
    assert a.aliases == ("Shiv Nguyen",) and a.meta["department"] == "Support"
    assert b.display == "Saoirse Ní Bhraonáin" and b.aliases == ("Saoirse Ni Bhraonain",)


def test_directory_missing_columns(tmp_path):
    p = tmp_path / "people.csv"
    p.write_text("name,team\nBob,x\n")
    with pytest.raises(InputError, match="missing columns 'first' and 'last'"):
        load_directory(p)


def test_demo_vocabularies_load(root):
    d = root / "dictionaries"
    if not (d / "demo-company.csv").exists():
        pytest.skip("demo dictionaries not generated yet")
    assert len(load_dictionary(d / "demo-company.csv").terms) >= 20
    assert len(load_directory(d / "demo-directory.csv").terms) >= 10
    assert len(load_dictionary(d / "speech-accent-archive.csv").terms) >= 5


def test_tsv_dictionary_cells_may_hold_commas(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("term\taliases\tsounds_like\nPayNimbus\tPay Nimbus|Paynimbus\tpay, nimbus\n", encoding="utf-8")
    (t,) = load_dictionary(p).terms
    assert t.aliases == ("Pay Nimbus", "Paynimbus") and t.sounds_like == ("pay, nimbus",)


def test_bom_and_crlf_and_bad_bytes(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes("\ufeffterm,category\r\nKlarvo,product\r\n".encode())
    (t,) = load_dictionary(p).terms
    assert (t.display, t.category, t.line) == ("Klarvo", "product", 2)
    p.write_bytes(b"term\nKlarvo\nPay\xe9\n")
    with pytest.raises(InputError) as e:
        load_dictionary(p)
    assert e.value.line == 3 and "not UTF-8" in e.value.problem


INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\x07"


def test_invisible_and_control_characters_are_removed_from_every_field_with_a_warning(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(
        "term,display,aliases,sounds_like,category,priority,owner\n"
        f"Klar{INVISIBLE}vo,,Klarvo\u202e App|K\u200bV,clar\u200bvo,prod\u200buct,\u200b2,da\u200bta\n"
        "Quorvi,,,,product,,\n",
        encoding="utf-8",
    )
    problems = []
    v = load_dictionary(p, on_problem=problems.append)
    kl, qu = v.terms
    assert (kl.display, kl.aliases, kl.sounds_like, kl.category, kl.priority, dict(kl.meta)) == (
        "Klarvo", ("Klarvo App", "KV"), ("clarvo",), "product", 2, {"owner": "data"})
    assert qu.display == "Quorvi"
    assert problems and {(x.line, x.severity) for x in problems} == {(2, "warning")}
    assert all(x.path == str(p) for x in problems)
    assert any("ZERO WIDTH SPACE" in x.problem for x in problems)


def test_tabs_and_line_separators_become_spaces(tmp_path):
    y = tmp_path / "d.yaml"
    y.write_text('- "Helpzy\\tDesk"\n- "Pay\\u2028Nimbus"\n- "\\u200bKlarvo\\u200b"\n', encoding="utf-8")
    assert [t.display for t in load_dictionary(y).terms] == ["Helpzy Desk", "Pay Nimbus", "Klarvo"]


def test_no_invisible_character_reaches_the_prompt(tmp_path):
    from asr_eval.bias import bias_text, build_conditions
    from asr_eval.evaluate import load_vocabularies

    d = tmp_path / "d.csv"
    d.write_text("term\nKlar\u200bvo\nPay\u202eNimbus\n", encoding="utf-8")
    p = tmp_path / "p.csv"
    p.write_text("first,last\nSiob\u200bhan,Ngu\u202eyen\n", encoding="utf-8")
    dictionary, directory = load_vocabularies(d, p)
    texts = [bias_text(c.terms) for c in build_conditions(dictionary, directory)]
    assert any("Klarvo" in t and "PayNimbus" in t and "Siobhan Nguyen" in t for t in texts)
    assert not any(ch in t for t in texts for ch in "\u200b\u202e")


def test_same_rule_for_lint_and_load():
    from asr_eval.vocab.text import invisible_characters, remove_invisible

    assert invisible_characters(f"a{INVISIBLE}b\t") == sorted(set(INVISIBLE + "\t"))
    assert remove_invisible(f"a{INVISIBLE}b") == "ab" and remove_invisible("a\tb\u2029c") == "a b c"
    assert remove_invisible("Siobhán Ní Bhraonáin ™") == "Siobhán Ní Bhraonáin ™"  # only invisible ones
