"""faiross.toml (format 1) and recipient strings: every rule, round trips, fuzzing.

Pure Python: no Django, no database (run with ``-p no:django``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from packageurl import PackageURL

from faiross.kernel.recipients import (
    RecipientError,
    canonical_recipient,
    is_valid_email,
    parse_recipient,
)
from faiross.kernel.shares import FULL_SHARE
from projects.faiross_toml import (
    MAX_ENTRIES,
    MAX_NOTE_LENGTH,
    ParsedTable,
    TableFileError,
    format_percent,
    table_from_toml,
    table_to_toml,
    toml_string,
)

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

EXAMPLE = """\
# faiross.toml: share table of project "numpy"
format = 1
owner = "project:numpy"
version = 3          # informational on import
reserve_millibips = 5_000_000

[[entry]]
recipient = "project:python"
millibips = 4000000   # 40%
note = "the language"

[[entry]]
recipient = "github:octocat"
millibips = 1_000_000
"""


def errors_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TableFileError) as info:
        table_from_toml(text=text)
    return info.value.errors


def table(*entries: str, head: str = "format = 1\n") -> str:
    return head + "".join(f"\n[[entry]]\n{body}\n" for body in entries)


# --- reading ------------------------------------------------------------------------------


def test_reads_the_documented_example() -> None:
    parsed = table_from_toml(text=EXAMPLE)
    assert parsed == ParsedTable(
        owner="project:numpy",
        version=3,
        entries=[("project:python", 4_000_000), ("github:octocat", 1_000_000)],
        notes={"project:python": "the language"},
    )


def test_the_examples_in_the_docs_are_valid() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "faiross-toml.md").read_text()
    example, email_line = re.findall(r"```toml\n(.*?)```", doc, re.S)[:2]
    parsed = table_from_toml(text=example)
    assert parsed.owner == "project:numpy"
    assert sum(m for _, m in parsed.entries) == FULL_SHARE - 4_765_433
    email = table_from_toml(text=f"format = 1\n[[entry]]\n{email_line}millibips = 1\n")
    assert email.entries == [('email:"ann lee"@example.org', 1)]


def test_minimal_file_is_all_reserve() -> None:
    assert table_from_toml(text="format = 1\n") == ParsedTable(owner=None, version=None, entries=[])


def test_syntax_error_names_the_line() -> None:
    assert errors_of('format = 1\n\n[[entry]]\nrecipient = "project:x\n') == [
        ("line 4", "TOML syntax error: Illegal character '\\n'")
    ]


def test_format_is_required_and_must_be_1() -> None:
    assert errors_of("") == [("format", "missing: the file must say 'format = 1'")]
    assert errors_of("format = 2\n")[0][0] == "format"
    assert "not supported" in errors_of("format = 2\n")[0][1]
    for bad in ('"1"', "1.0", "true"):
        assert errors_of(f"format = {bad}\n")[0][0] == "format"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("1.5", "whole number (an integer), not 1.5"),
        ("1e6", "whole number (an integer)"),
        ('"100000"', "without quotes"),
        ("true", "whole number, not true"),
        ("0", "must be positive"),
        ("-5", "must be positive"),
        ("10_000_001", "at most 10,000,000"),
        ("[1]", "whole number"),
    ],
)
def test_millibips_must_be_a_positive_integer(value: str, words: str) -> None:
    errors = errors_of(table(f'recipient = "user:bob"\nmillibips = {value}'))
    assert len(errors) == 1
    assert errors[0][0] == "entry 1"
    assert words in errors[0][1]


def test_missing_fields_in_an_entry() -> None:
    errors = errors_of(table("millibips = 5", 'recipient = "user:bob"'))
    assert errors == [
        ("entry 1", "'recipient' is missing, e.g. recipient = \"project:numpy\""),
        ("entry 2", "millibips is missing: add e.g. 'millibips = 100_000' (1%)"),
    ]


def test_unknown_keys_are_errors_with_a_suggestion() -> None:
    errors = errors_of(
        'format = 1\nonwer = "project:x"\n\n[[entry]]\nrecipient = "user:a"\nmilibips = 5\n'
    )
    assert errors[0] == (
        "onwer",
        "unknown key 'onwer'; did you mean 'owner'? "
        "(allowed: format, owner, version, reserve_millibips, entry, verification)",
    )
    assert errors[1][0] == "entry 1"
    assert "did you mean 'millibips'?" in errors[1][1]


def test_entry_must_be_an_array_of_tables() -> None:
    errors = errors_of('format = 1\n[entry]\nrecipient = "user:a"\nmillibips = 1\n')
    assert errors == [("entry", "write each entry under [[entry]] (double brackets), not [entry]")]
    assert errors_of('format = 1\nentry = "x"\n') == [
        ("entry", "must be a list of [[entry]] tables")
    ]
    # An inline array of inline tables is the same TOML data and is accepted.
    parsed = table_from_toml(text='format = 1\nentry = [{recipient = "user:a", millibips = 7}]\n')
    assert parsed.entries == [("user:a", 7)]


def test_sum_over_100_percent() -> None:
    errors = errors_of(
        table(
            'recipient = "project:a"\nmillibips = 6_000_000',
            'recipient = "project:b"\nmillibips = 4_000_001',
        )
    )
    assert errors == [
        (
            "entries",
            "the entries add up to 10,000,001 millibips (100.00001%), more than "
            "10,000,000 (100%); lower some of them",
        )
    ]
    exactly = table(
        'recipient = "project:a"\nmillibips = 6_000_000',
        'recipient = "project:b"\nmillibips = 4_000_000',
    )
    assert sum(m for _, m in table_from_toml(text=exactly).entries) == FULL_SHARE


def test_duplicates_are_found_after_canonicalisation() -> None:
    errors = errors_of(
        table(
            'recipient = "github:Octocat"\nmillibips = 1',
            'recipient = "github:octocat"\nmillibips = 1',
            'recipient = "purl:pkg:pypi/Django_REST"\nmillibips = 1',
            'recipient = "purl:pkg:pypi/django.rest"\nmillibips = 1',
            'recipient = "email:Ann@Example.org"\nmillibips = 1',
            'recipient = "email:Ann@example.ORG"\nmillibips = 1',
            'recipient = "email:ann@example.org"\nmillibips = 1',  # local parts differ
        )
    )
    assert errors == [
        ("entry 2", "recipient github:octocat is already in entry 1; merge the two entries"),
        (
            "entry 4",
            "recipient purl:pkg:pypi/django.rest is already in entry 3; merge the two entries",
        ),
        ("entry 6", "recipient email:Ann@example.ORG is already in entry 5; merge the two entries"),
    ]


def test_owner_rules() -> None:
    assert errors_of('format = 1\nowner = "user:bob"\n')[0][0] == "owner"
    assert errors_of('format = 1\nowner = "project:Not_A_Slug"\n')[0][0] == "owner"
    assert table_from_toml(text='format = 1\nowner = "company:acme"\n').owner == "company:acme"
    errors = errors_of(
        table(
            'recipient = "project:numpy"\nmillibips = 1',
            head='format = 1\nowner = "project:numpy"\n',
        )
    )
    assert errors[0][0] == "entry 1"
    assert "cannot be an entry of its own table" in errors[0][1]


def test_version_is_informational_but_typed() -> None:
    assert table_from_toml(text="format = 1\nversion = 7\n").version == 7
    assert errors_of("format = 1\nversion = 0\n")[0][0] == "version"
    assert errors_of('format = 1\nversion = "3"\n')[0][0] == "version"


def test_reserve_must_equal_the_remainder_or_be_absent() -> None:
    entry = 'recipient = "user:a"\nmillibips = 2_500_000'
    ok = table(entry, head="format = 1\nreserve_millibips = 7_500_000\n")
    assert table_from_toml(text=ok).entries == [("user:a", 2_500_000)]
    errors = errors_of(table(entry, head="format = 1\nreserve_millibips = 7_000_000\n"))
    assert errors == [
        (
            "reserve_millibips",
            "is 7,000,000 but the entries leave 7,500,000 (75%); correct it or delete the "
            "line (it is informational)",
        )
    ]
    assert errors_of("format = 1\nreserve_millibips = 1.5\n")[0][0] == "reserve_millibips"


def test_notes() -> None:
    long_note = "x" * (MAX_NOTE_LENGTH + 1)
    errors = errors_of(
        table(
            f'recipient = "user:a"\nmillibips = 1\nnote = "{long_note}"',
            'recipient = "user:b"\nmillibips = 1\nnote = 5',
        )
    )
    assert [where for where, _ in errors] == ["entry 1", "entry 2"]


def test_too_many_entries() -> None:
    rows = [f'recipient = "user:u{i}"\nmillibips = 1' for i in range(MAX_ENTRIES + 1)]
    assert errors_of(table(*rows)) == [
        (
            "entries",
            "the table has 501 entries; at most 500 are allowed (give small shares to a "
            "project or person who passes them on)",
        )
    ]
    assert len(table_from_toml(text=table(*rows[:MAX_ENTRIES])).entries) == MAX_ENTRIES


def test_all_errors_are_reported_in_file_order() -> None:
    text = (
        'format = 1\nowner = "nobody"\n\n'
        '[[entry]]\nrecipient = "github:-x"\nmillibips = 1.5\n\n'
        '[[entry]]\nrecipient = "project:ok"\nmillibips = 5\ncolour = "red"\n'
    )
    assert [where for where, _ in errors_of(text)] == ["owner", "entry 1", "entry 1", "entry 2"]


def test_non_text_and_huge_input() -> None:
    with pytest.raises(TableFileError):
        table_from_toml(text=b"format = 1")  # type: ignore[arg-type]
    with pytest.raises(TableFileError) as info:
        table_from_toml(text="#" * 1_000_001)
    assert info.value.errors[0][0] == "file"
    with pytest.raises(TableFileError):
        table_from_toml(text="a = " + "[" * 100_000)
    with pytest.raises(TableFileError):
        table_from_toml(text="format = " + "9" * 10_000)


# --- writing ------------------------------------------------------------------------------


def test_writes_readable_toml() -> None:
    text = table_to_toml(
        owner="project:numpy",
        version=3,
        entries=[("project:python", 4_000_000), ("email:ann@example.org", 1_234_567)],
        notes={"project:python": 'the "language"'},
    )
    assert text.startswith("# faiross.toml: share table of project:numpy\n")
    assert "format = 1\n" in text
    assert 'owner = "project:numpy"\n' in text
    assert "version = 3" in text
    assert "reserve_millibips = 4_765_433  # 47.65433%" in text
    assert 'recipient = "project:python"\nmillibips = 4_000_000  # 40%\n' in text
    assert 'note = "the \\"language\\""' in text
    assert "millibips = 1_234_567  # 12.34567%" in text
    data = tomllib.loads(text)
    assert data["entry"][1] == {"recipient": "email:ann@example.org", "millibips": 1_234_567}


def test_writer_comment_cannot_break_the_file() -> None:
    comment = 'line one\nline two\r\n\x00\x07 bell "quoted" \\ back\u2028para\ud800'
    text = table_to_toml(owner="company:acme", version=None, entries=[], comment=comment)
    assert text.startswith("# line one\n# line two\n# ?? bell")
    assert table_from_toml(text=text) == ParsedTable(owner="company:acme", version=None, entries=[])


def test_writer_rejects_invalid_tables() -> None:
    with pytest.raises(ValueError, match="owner"):
        table_to_toml(owner="user:bob", version=None, entries=[])
    with pytest.raises(ValueError, match="version"):
        table_to_toml(owner="project:a", version=0, entries=[])
    with pytest.raises(ValueError, match="100%"):
        table_to_toml(
            owner="project:a", version=None, entries=[("user:x", 6_000_000), ("user:y", 5_000_000)]
        )
    with pytest.raises(ValueError, match="already in entry 1"):
        table_to_toml(owner="project:a", version=None, entries=[("user:x", 1), ("user:x", 1)])
    with pytest.raises(ValueError, match="not an entry"):
        table_to_toml(owner="project:a", version=None, entries=[], notes={"user:x": "hi"})


@pytest.mark.parametrize(
    ("millibips", "text"),
    [
        (10_000_000, "100%"),
        (4_000_000, "40%"),
        (100_000, "1%"),
        (50_000, "0.5%"),
        (1, "0.00001%"),
        (1_234_567, "12.34567%"),
        (0, "0%"),
    ],
)
def test_format_percent(millibips: int, text: str) -> None:
    assert format_percent(millibips) == text


@PROPERTY
@given(st.text().filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)))
def test_toml_string_escapes_anything(value: str) -> None:
    assert tomllib.loads(f"k = {toml_string(value)}")["k"] == value


# --- recipients ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "project:numpy",
        "project:a",
        "project:" + "a" * 50,
        "user:alice",
        "user:Zoë.k",
        "user:a.b@c+d-e_f",
        "github:octocat",
        "github:a-b-c",
        "github:" + "a" * 39,
        "email:ann@example.org",
        "email:first.last+tag@sub.example.co.uk",
        'email:"john doe"@example.org',
        'email:"a\\"b"@example.org',
        "email:josé@exämple.de",
        "email:用户@例子.广告",
        "purl:pkg:pypi/django",
        "purl:pkg:npm/%40vitejs/plugin-react",
        "purl:pkg:maven/org.slf4j/slf4j-api",
    ],
)
def test_valid_recipients(value: str) -> None:
    kind, identifier = parse_recipient(value)
    assert f"{kind}:{identifier}" == value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("numpy", "is not a recipient"),
        ("team:numpy", "is not a recipient"),
        ("project:", "needs something after the colon"),
        (" project:numpy", "spaces around it"),
        ("project:NumPy", "not a project slug"),
        ("project:-numpy", "not a project slug"),
        ("project:" + "a" * 51, "not a project slug"),
        ("user:bob smith", "not a username"),
        ("user:o'neil", "not a username"),
        ("user:" + "a" * 151, "not a username"),
        ("github:-octocat", "not a GitHub login"),
        ("github:octo_cat", "not a GitHub login"),
        ("github:" + "a" * 40, "not a GitHub login"),
        ("email:ann", "not a valid email"),
        ("email:ann@localhost", "not a valid email"),
        ("email:ann@@example.org", "not a valid email"),
        ("email:ann smith@example.org", "not a valid email"),
        ("email:.ann@example.org", "not a valid email"),
        ("email:ann@example..org", "not a valid email"),
        ("email:ann@-example.org", "not a valid email"),
        ("email:ann@example.123", "not a valid email"),
        ('email:"unterminated@example.org', "not a valid email"),
        ("email:ann\n@example.org", "not a valid email"),
        ("purl:django", "starting with 'pkg:'"),
        ("purl:pkg:pypi/django@5.2", "names a version"),
        ("purl:pkg:pypi/django?arch=x", "qualifiers"),
        ("purl:pkg:pypi/", "not a valid package URL"),
        ("purl:pkg:pypi/dj ango", "spaces"),
    ],
)
def test_invalid_recipients(value: str, words: str) -> None:
    with pytest.raises(RecipientError) as info:
        parse_recipient(value)
    assert words in info.value.message


def test_non_string_recipient() -> None:
    with pytest.raises(RecipientError):
        parse_recipient(42)  # type: ignore[arg-type]


def test_canonical_recipient() -> None:
    assert canonical_recipient("github:OctoCat") == "github:octocat"
    assert canonical_recipient("email:Ann@Example.ORG") == "email:Ann@example.org"
    assert canonical_recipient("purl:pkg:PyPI/Django_Rest") == "purl:pkg:pypi/django-rest"
    assert canonical_recipient("project:numpy") == "project:numpy"


@PROPERTY
@given(st.text(max_size=60))
def test_parse_recipient_only_raises_recipient_error(value: str) -> None:
    for candidate in (value, f"email:{value}", f"purl:pkg:{value}", f"user:{value}"):
        try:
            kind, identifier = parse_recipient(candidate)
        except RecipientError:
            continue
        assert f"{kind}:{identifier}" == candidate
        canonical_recipient(candidate)


# --- properties ---------------------------------------------------------------------------

_LOCAL_CHARS = st.sampled_from([*"abcxyzABC0129!#$%&'*+-/=?^_`{|}~", "é", "ü", "ß", "数", "ж"])
_dot_atom = st.lists(st.text(_LOCAL_CHARS, min_size=1, max_size=6), min_size=1, max_size=3).map(
    ".".join
)
_quoted = st.lists(st.sampled_from([*"ab ,;:@<>()[]é", '\\"', "\\\\"]), max_size=8).map(
    lambda parts: '"' + "".join(parts) + '"'
)
_label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True) | st.sampled_from(
    ["exämple", "例子", "Example"]
)
_tld = st.sampled_from(["org", "com", "de", "ORG", "广告", "io"])
emails = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    _dot_atom | _quoted,
    st.lists(_label, min_size=1, max_size=2),
    _tld,
).filter(is_valid_email)

purls = st.builds(
    lambda ptype, namespace, name: PackageURL(
        type=ptype, namespace=namespace, name=name
    ).to_string(),
    st.sampled_from(["pypi", "npm", "cargo", "maven", "generic", "gem"]),
    st.none() | st.from_regex(r"[a-z][a-z0-9.-]{0,10}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True),
)

recipients = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True).map(lambda s: f"project:{s}"),
    st.from_regex(r"[\w.@+-]{1,20}", fullmatch=True).map(lambda s: f"user:{s}"),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}", fullmatch=True).map(lambda s: f"github:{s}"),
    emails.map(lambda s: f"email:{s}"),
    purls.map(lambda s: f"purl:{s}"),
)


def _valid(recipient: str) -> bool:
    try:
        parse_recipient(recipient)
    except RecipientError:
        return False
    return True


@st.composite
def valid_tables(draw: st.DrawFn) -> tuple[str, int | None, list[tuple[str, int]], dict[str, str]]:
    owner = draw(
        st.builds(
            lambda kind, slug: f"{kind}:{slug}",
            st.sampled_from(["project", "company"]),
            st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
        )
    )
    candidates = draw(st.lists(recipients.filter(_valid), max_size=25))
    seen = {owner}
    chosen = []
    for recipient in candidates:
        key = canonical_recipient(recipient)
        if key not in seen:
            seen.add(key)
            chosen.append(recipient)
    budget = FULL_SHARE
    entries = []
    for recipient in chosen:
        if budget < 1:
            break
        amount = draw(st.integers(1, budget))
        budget -= amount
        entries.append((recipient, amount))
    notes = {}
    for recipient, _ in entries:
        note = draw(
            st.none()
            | st.text(max_size=40).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t))
        )
        if note:
            notes[recipient] = note
    version = draw(st.none() | st.integers(1, 10**6))
    return owner, version, entries, notes


@PROPERTY
@given(valid_tables(), st.none() | st.text(max_size=80))
def test_round_trip(
    drawn: tuple[str, int | None, list[tuple[str, int]], dict[str, str]], comment: str | None
) -> None:
    owner, version, entries, notes = drawn
    text = table_to_toml(
        owner=owner, version=version, entries=entries, comment=comment, notes=notes
    )
    parsed = table_from_toml(text=text)
    assert parsed.owner == owner
    assert parsed.version == version
    assert parsed.entries == entries
    assert parsed.notes == notes


_any_recipient = recipients | st.text(max_size=12) | st.sampled_from(["project:a", "user:a"])
_any_millibips = (
    st.integers(-10, FULL_SHARE + 10)
    | st.integers(1, 3_000_000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.text(max_size=5)
)


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return toml_string(value)
    return repr(value)


@PROPERTY
@given(
    st.lists(st.tuples(_any_recipient, _any_millibips), max_size=12),
    st.none() | st.integers(-5, FULL_SHARE),
)
def test_any_accepted_table_sums_to_at_most_100_percent(
    rows: list[tuple[str, object]], reserve: int | None
) -> None:
    assume(all(not any(0xD800 <= ord(c) <= 0xDFFF for c in r) for r, _ in rows))
    head = "format = 1\n" + (f"reserve_millibips = {reserve}\n" if reserve is not None else "")
    text = table(
        *(f"recipient = {toml_string(r)}\nmillibips = {_render(m)}" for r, m in rows), head=head
    )
    try:
        parsed = table_from_toml(text=text)
    except TableFileError as exc:
        assert exc.errors and all(isinstance(w, str) and isinstance(m, str) for w, m in exc.errors)
        return
    assert sum(m for _, m in parsed.entries) <= FULL_SHARE
    assert all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for _, m in parsed.entries)
    keys = [canonical_recipient(r) for r, _ in parsed.entries]
    assert len(keys) == len(set(keys))
    if reserve is not None:
        assert reserve == FULL_SHARE - sum(m for _, m in parsed.entries)


@PROPERTY
@given(
    st.text(max_size=400)
    | st.text(alphabet='format=1[]"entry recipient millibips\n:_.#', max_size=300)
)
def test_any_text_gives_a_table_or_a_table_file_error(text: str) -> None:
    try:
        parsed = table_from_toml(text=text)
    except TableFileError as exc:
        assert exc.errors
        return
    assert sum(m for _, m in parsed.entries) <= FULL_SHARE
