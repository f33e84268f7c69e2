"""Parsing of Orion's Simple Query Language (`q` / `mq`): AST shape and Orion's exact 400 descriptions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.ngsi.errors import NgsiError
from broker.ngsi.query import Compare, DateValue, Exists, Path, Query, Range, ValueList, parse_mq, parse_q


def one(text: str) -> Compare | Exists:
    """The single statement of a q filter."""
    query = parse_q(text)
    assert len(query.statements) == 1
    return query.statements[0]


def q_error(text: str) -> str:
    """The description of the 400 a q filter is rejected with."""
    with pytest.raises(NgsiError) as info:
        parse_q(text)
    assert (info.value.status, info.value.error) == (400, "BadRequest")
    return info.value.description


def mq_error(text: str) -> str:
    """The description of the 400 an mq filter is rejected with."""
    with pytest.raises(NgsiError) as info:
        parse_mq(text)
    assert (info.value.status, info.value.error) == (400, "BadRequest")
    return info.value.description


# --- operators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op"),
    [("t==1", "=="), ("t!=1", "!="), ("t>1", ">"), ("t<1", "<"), ("t>=1", ">="), ("t<=1", "<="), ("t:1", "==")],
)
def test_every_binary_operator_is_recognised_and_colon_means_equal(text: str, op: str) -> None:
    assert one(text) == Compare(Path("t"), op, 1.0)


def test_match_pattern_keeps_the_regex_text() -> None:
    assert one("color~=^bl.*k$") == Compare(Path("color"), "~=", "^bl.*k$")


def test_bare_name_is_an_existence_statement() -> None:
    assert one("temperature") == Exists(Path("temperature"), negated=False)


def test_bang_name_is_a_non_existence_statement() -> None:
    assert one("!temperature") == Exists(Path("temperature"), negated=True)


def test_first_operator_wins_so_the_rest_belongs_to_the_value() -> None:
    assert q_error("a==b==c") == "forbidden characters in String Filter"


def test_whitespace_around_sides_is_stripped() -> None:
    assert one("  t  ==  5  ") == Compare(Path("t"), "==", 5.0)


# --- value typing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rhs", "value"),
    [
        ("40", 40.0),
        ("-3.5", -3.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("0x10", 16.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ("hello", "hello"),
        ("'20'", "20"),
        ("'true'", "true"),
        ("'null'", "null"),
        ("''", ""),
        ("'", ""),
        ("1e999", "1e999"),
        ("True", "True"),
    ],
)
def test_value_is_typed_as_orion_does(rhs: str, value: object) -> None:
    statement = one(f"a=={rhs}")
    assert isinstance(statement, Compare)
    assert statement.value == value
    assert type(statement.value) is type(value)


def test_numbers_are_always_floats() -> None:
    statement = one("a==7")
    assert isinstance(statement, Compare) and isinstance(statement.value, float)


def test_nan_is_a_number_as_for_strtod() -> None:
    statement = one("a==nan")
    assert isinstance(statement, Compare) and isinstance(statement.value, float) and math.isnan(statement.value)


def test_iso8601_value_is_a_date() -> None:
    assert one("d>2018-01-01T00:00:00Z") == Compare(Path("d"), ">", DateValue(1514764800.0))


def test_date_only_value_is_a_date() -> None:
    assert one("d<2018-01-01") == Compare(Path("d"), "<", DateValue(1514764800.0))


def test_quoted_date_is_a_string() -> None:
    assert one("d=='2018-01-01'") == Compare(Path("d"), "==", "2018-01-01")


def test_year_alone_is_a_number_not_a_date() -> None:
    assert one("d==2018") == Compare(Path("d"), "==", 2018.0)


# --- lists and ranges --------------------------------------------------------------------------


def test_list_of_strings() -> None:
    assert one("color==black,red") == Compare(Path("color"), "==", ValueList(("black", "red")))


def test_list_with_not_equal() -> None:
    assert one("n!=1,2") == Compare(Path("n"), "!=", ValueList((1.0, 2.0)))


def test_list_items_may_quote_commas() -> None:
    expected = ValueList(("light,green", "deep,blue"))
    assert one("color=='light,green','deep,blue'") == Compare(Path("color"), "==", expected)


def test_list_of_dates() -> None:
    statement = one("d==2018-01-01,2019-01-01")
    assert statement == Compare(Path("d"), "==", ValueList((DateValue(1514764800.0), DateValue(1546300800.0))))


def test_numeric_range() -> None:
    assert one("t==10..20") == Compare(Path("t"), "==", Range(10.0, 20.0))


def test_string_range_with_not_equal() -> None:
    assert one("s!=a..m") == Compare(Path("s"), "!=", Range("a", "m"))


def test_date_range() -> None:
    statement = one("d==2018-01-01..2019-01-01")
    assert statement == Compare(Path("d"), "==", Range(DateValue(1514764800.0), DateValue(1546300800.0)))


@pytest.mark.parametrize("op", [">", "<", ">=", "<="])
def test_range_with_ordering_operator_is_rejected_with_orion_description(op: str) -> None:
    assert q_error(f"t{op}1..2") == "ranges only valid for equal and not equal ops"


@pytest.mark.parametrize("op", [">", "<", ">=", "<="])
def test_list_with_ordering_operator_is_rejected_with_orion_description(op: str) -> None:
    assert q_error(f"t{op}1,2") == "lists only valid for equal and not equal ops"


def test_range_is_detected_before_list() -> None:
    assert q_error("t==1..2,3") == "invalid range: types mixed"


@pytest.mark.parametrize("text", ["t==..5", "t==5..", "t==  ..5"])
def test_range_with_empty_end_is_rejected(text: str) -> None:
    assert q_error(text) == "empty item in range"


def test_range_from_boolean_is_rejected() -> None:
    assert q_error("t==true..false") == "invalid data type for /range-from/"


def test_range_to_null_is_rejected() -> None:
    assert q_error("t==1..null") == "invalid data type for /range-to/"


def test_range_mixing_number_and_string_is_rejected() -> None:
    assert q_error("t==1..z") == "invalid range: types mixed"


def test_range_mixing_number_and_date_is_rejected() -> None:
    assert q_error("t==1..2018-01-01") == "invalid range: types mixed"


@pytest.mark.parametrize("text", ["c==a,", "c==,a", "c==a, ,b"])
def test_list_with_empty_item_is_rejected(text: str) -> None:
    assert q_error(text) == "empty item in list"


@pytest.mark.parametrize("text", ["c==true,false", "c==1,x", "c==x,null", "c==1,2018-01-01"])
def test_list_with_boolean_null_or_mixed_kinds_is_rejected(text: str) -> None:
    assert q_error(text) == "invalid JSON value type in list"


# --- paths and quoting ----------------------------------------------------------------------------


def test_dotted_q_path_goes_into_the_compound_value() -> None:
    assert one("a.b.c==1") == Compare(Path("a", None, ("b", "c")), "==", 1.0)


def test_quoted_token_keeps_its_dots() -> None:
    assert one("'a.b'.w.'x.y'==1") == Compare(Path("a.b", None, ("w", "x.y")), "==", 1.0)


def test_quoted_attribute_alone() -> None:
    assert one("'a.b'") == Exists(Path("a.b"), negated=False)


def test_quoted_operator_characters_do_not_split_but_are_forbidden_in_lhs() -> None:
    assert q_error("'a>b'==1") == "invalid character found in URI param /q/"


def test_compound_existence() -> None:
    assert one("!a.b") == Exists(Path("a", None, ("b",)), negated=True)


def test_builtin_dates_parse_as_plain_paths() -> None:
    assert one("dateModified>2018-01-01") == Compare(Path("dateModified"), ">", DateValue(1514764800.0))


# --- mq ------------------------------------------------------------------------------------


def test_mq_path_is_attribute_and_metadata() -> None:
    assert parse_mq("temperature.accuracy<1") == Query((Compare(Path("temperature", "accuracy"), "<", 1.0),))


def test_mq_path_with_compound_tail() -> None:
    statement = parse_mq("a.m.x.y==z").statements[0]
    assert statement == Compare(Path("a", "m", ("x", "y")), "==", "z")


def test_mq_quoted_metadata_name() -> None:
    assert parse_mq("A.'M.x'").statements[0] == Exists(Path("A", "M.x"), negated=False)


def test_mq_negated_existence() -> None:
    assert parse_mq("!A.M").statements[0] == Exists(Path("A", "M"), negated=True)


def test_mq_unary_without_metadata_is_rejected() -> None:
    assert mq_error("A") == "no metadata in right-hand-side of q-item"


def test_mq_binary_without_metadata_is_rejected() -> None:
    assert mq_error("A==1") == "no metadata name - not valid for metadata filters"


def test_mq_without_attribute_is_rejected() -> None:
    assert mq_error(".M==1") == "no attribute name - not valid for metadata filters"


def test_mq_name_checks_run_after_every_item_parsed() -> None:
    assert mq_error("A==1;B.m==x=y") == "forbidden characters in String Filter"


def test_mq_forbidden_lhs_names_the_mq_param() -> None:
    assert mq_error("a=b.m") == "invalid character found in URI param /mq/"


def test_q_metadata_is_none() -> None:
    assert one("a.b") == Exists(Path("a", None, ("b",)), negated=False)


# --- statements ------------------------------------------------------------------------------


def test_statements_are_separated_by_semicolons() -> None:
    query = parse_q("a>1;!b;c==x")
    assert query == Query(
        (Compare(Path("a"), ">", 1.0), Exists(Path("b"), negated=True), Compare(Path("c"), "==", "x"))
    )


def test_one_trailing_semicolon_is_ignored() -> None:
    assert parse_q("a;") == Query((Exists(Path("a")),))


def test_leading_semicolon_is_ignored_like_strtok() -> None:
    assert parse_q(";a") == Query((Exists(Path("a")),))


@pytest.mark.parametrize("text", ["", ";"])
def test_empty_q_is_rejected(text: str) -> None:
    assert q_error(text) == "empty q"


@pytest.mark.parametrize("text", ["a;;b", ";;", "a;;", "a; ", "a;\t"])
def test_empty_item_is_rejected(text: str) -> None:
    assert q_error(text) == "empty q-item"


@pytest.mark.parametrize("text", ["a; ;b", " ", " ;a", "\t"])
def test_whitespace_only_item_is_rejected(text: str) -> None:
    assert q_error(text) == "empty q-item (only whitespace)"


# --- every other error -------------------------------------------------------------------------


def test_empty_left_hand_side_is_rejected() -> None:
    assert q_error("==1") == "empty left-hand-side in q-item"


@pytest.mark.parametrize("text", ["a==", "a>", "a~=", "!", "a==  "])
def test_empty_right_hand_side_is_rejected(text: str) -> None:
    assert q_error(text) == "empty right-hand-side in q-item"


@pytest.mark.parametrize("text", ["a=b", "a:=1", "!a==1", "!=1", "a(b)", 'a"b'])
def test_forbidden_character_in_lhs_is_rejected(text: str) -> None:
    assert q_error(text) == "invalid character found in URI param /q/"


@pytest.mark.parametrize("text", ["a==x(y)", 'a==x"y', "a==x'y", "a=='x=y'", "a==x,y)", "a==a..b)"])
def test_forbidden_character_in_value_is_rejected(text: str) -> None:
    assert q_error(text) == "forbidden characters in String Filter"


def test_misplaced_quote_in_unary_path_is_rejected() -> None:
    assert q_error("a'b") == "forbidden characters in String Filter"


def test_forbidden_character_in_pattern_is_rejected() -> None:
    assert q_error("a~=(x)") == "forbidden characters in String Filter"


def test_invalid_regex_is_rejected_with_the_pattern_quoted() -> None:
    assert q_error("a~=[x") == "error compiling filter regex: '[x'"


def test_non_terminated_forced_string_is_rejected() -> None:
    assert q_error("a=='abc") == "non-terminated forced string"


def test_quote_inside_forced_string_is_rejected() -> None:
    assert q_error("a=='a'b'") == "quote in forced string"


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("a>true", "values of type /Bool/ not supported for operator /GreaterThan/"),
        ("a<false", "values of type /Bool/ not supported for operator /LessThan/"),
        ("a>=null", "values of type /Null/ not supported for operator /GreaterThanOrEqual/"),
        ("a<=null", "values of type /Null/ not supported for operator /LessThanOrEqual/"),
    ],
)
def test_ordering_operator_with_bool_or_null_is_rejected(text: str, description: str) -> None:
    assert q_error(text) == description


def test_ordering_operator_accepts_strings() -> None:
    assert one("name>m") == Compare(Path("name"), ">", "m")


def test_first_failing_item_decides_the_error() -> None:
    assert q_error("a>true;b==") == "values of type /Bool/ not supported for operator /GreaterThan/"


# --- robustness ----------------------------------------------------------------------------------


def _total(text: str) -> None:
    for parse in (parse_q, parse_mq):
        try:
            result = parse(text)
        except NgsiError as error:
            assert error.status == 400 and error.description
        else:
            assert isinstance(result, Query)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_any_text_parses_or_raises_ngsi_error_only(text: str) -> None:
    _total(text)


_GRAMMAR = st.sampled_from(
    list("ab.'!=~<>:;,-+ \t\n()\"0123456789eExX")
    + ["..", "==", "!=", ">=", "<=", "~=", "true", "null", "2018-01-01", "T10:00:00Z", "nan", "inf"]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_GRAMMAR, max_size=20).map("".join))
def test_grammar_shaped_text_parses_or_raises_ngsi_error_only(text: str) -> None:
    _total(text)
