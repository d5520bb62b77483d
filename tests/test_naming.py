"""Identifier sanitising and string literals: hostile source names never become code."""

from __future__ import annotations

import ast
import keyword

import black
from hypothesis import given, settings
from hypothesis import strategies as st

from xrepo.codegen.naming import (
    RESERVED_FIELD_NAMES,
    NameAllocator,
    comment_text,
    field_names,
    pascal_case,
    py_str,
    snake_case,
)
from xrepo.codegen.render import format_code
from xrepo.runtime.model import XObjPrototype


def test_snake_case_examples() -> None:
    assert snake_case("customerId") == "customer_id"
    assert snake_case("HTTPServer") == "http_server"
    assert snake_case("my col") == "my_col"
    assert snake_case('we"ird') == "we_ird"
    assert snake_case("'; drop table x; --") == "drop_table_x"
    assert snake_case("1st") == "f_1st"
    assert snake_case("naïve") == "naive"
    assert snake_case("_id") == "id"
    assert snake_case("a__b") == "a_b"


def test_keywords_builtins_and_model_attributes_are_renamed() -> None:
    for kw in [*keyword.kwlist, *keyword.softkwlist]:
        assert not keyword.iskeyword(snake_case(kw))
        assert not keyword.issoftkeyword(snake_case(kw))
    assert snake_case("class") == "class_"
    assert snake_case("from") == "from_"
    assert snake_case("json") == "json_"
    assert snake_case("list") == "list_"
    assert snake_case("datetime") == "datetime_"
    assert snake_case("model_config") == "field_model_config"
    assert snake_case("model_dump_json") == "field_model_dump_json"
    for attr in dir(XObjPrototype):
        if not attr.startswith("_"):
            assert snake_case(attr) != attr


def test_nothing_ascii_left_falls_back_to_a_stable_hash() -> None:
    a = snake_case("日本")
    assert a.startswith("u_") and a == snake_case("日本")
    assert a != snake_case("中国")
    assert pascal_case("日本").startswith("U")


def test_pascal_case_singularises() -> None:
    assert pascal_case("order_items", singular=True) == "OrderItem"
    assert pascal_case("categories", singular=True) == "Category"
    assert pascal_case("addresses", singular=True) == "Address"
    assert pascal_case("status", singular=True) == "Status"
    assert pascal_case("1st") == "N1st"
    assert pascal_case("my col") == "MyCol"


def test_collisions_get_stable_suffixes_and_exact_names_win() -> None:
    assert field_names(["My Col", "my_col"]) == ["my_col_2", "my_col"]
    assert field_names(["my_col", "My Col", "my col"]) == ["my_col", "my_col_2", "my_col_3"]
    alloc = NameAllocator({"Order"}, separator="")
    assert alloc.take("Order") == "Order2"
    assert alloc.take("Order") == "Order3"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=8))
def test_field_names_are_unique_safe_identifiers(names: list[str]) -> None:
    out = field_names(names)
    assert len(out) == len(names) == len(set(out))
    for n in out:
        assert n.isidentifier() and n.isascii()
        assert not keyword.iskeyword(n) and not keyword.issoftkeyword(n)
        assert n not in RESERVED_FIELD_NAMES
        assert not n.startswith(("_", "model_"))
        assert "__" not in n


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20))
def test_pascal_case_is_an_identifier(name: str) -> None:
    out = pascal_case(name, singular=True)
    assert out.isidentifier() and out.isascii() and out[0].isupper()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_py_str_round_trips_and_is_black_stable(text: str) -> None:
    literal = py_str(text)
    assert ast.literal_eval(literal) == text
    code = f"x = {literal}\n"
    assert format_code(code) == code


def test_py_str_hostile_examples() -> None:
    for text in ['tri"""ple', "back\\slash", "new\nline", "'; drop table x; --", "\x00\u2028"]:
        literal = py_str(text)
        assert "\n" not in literal
        assert ast.literal_eval(literal) == text


def test_comment_text_is_one_line() -> None:
    assert "\n" not in comment_text("a\nb\rc\u2028d")


def test_black_mode_is_fixed() -> None:
    # The consumer's pyproject must not matter: format_code passes an explicit Mode.
    assert format_code("x = 'a'\n") == 'x = "a"\n'
    assert black.__version__
