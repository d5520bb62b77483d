"""Identifier sanitising and string literals: hostile source names never become code."""

from __future__ import annotations

import ast
import hashlib
import keyword

import black
from hypothesis import given, settings
from hypothesis import strategies as st

from xrepo.codegen.naming import comment_text, py_str
from xrepo.codegen.render import format_code
from xrepo.runtime.model import XObjPrototype
from xrepo.runtime.naming import (
    RESERVED_FIELD_NAMES,
    NameAllocator,
    allocate,
    field_names,
    pascal_case,
    snake_case,
    stable_names,
)
from xrepo.runtime.schema import CollectionSpec, FieldSpec, LogicalType, TypeSpec


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


def _h(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:4]


def test_collisions_get_stable_suffixes_and_exact_names_win() -> None:
    assert field_names(["My Col", "my_col"]) == [f"my_col_{_h('My Col')}", "my_col"]
    three = field_names(["my_col", "My Col", "my col"])
    assert three == ["my_col", f"my_col_{_h('My Col')}", f"my_col_{_h('my col')}"]
    # Suffixes come from the source name, not the position: order and additions change nothing.
    assert field_names(["my col", "My Col", "my_col"]) == list(reversed(three))
    assert field_names(["My Col", "other", "my_col", "MY-COL"])[0] == three[1]
    # No exact name: every collider is suffixed; a lone name keeps its plain form.
    assert field_names(["My Col", "my col"]) == three[1:]
    assert field_names(["My Col"]) == ["my_col"]
    alloc = NameAllocator({"Order"}, separator="")
    assert alloc.take("Order") == "Order2"
    assert alloc.take("Order") == "Order3"


def test_stable_names_rules() -> None:
    reqs: list[tuple[str, str, int | None]] = [("A", "x", None), ("A", "y", 1), ("A", "z", 0)]
    assert stable_names(reqs) == [f"A_{_h('x')}", f"A_{_h('y')}", "A"]
    # A tie at the best rank: nobody keeps the plain name.
    assert stable_names([("A", "x", 0), ("A", "y", 0)]) == [f"A_{_h('x')}", f"A_{_h('y')}"]
    # Taken names are never given, even to a single best-ranked request.
    assert stable_names([("A", "x", 0)], taken={"A"}) == [f"A_{_h('x')}"]
    # A suffix that clashes with a given name grows, then counts: always unique.
    clash = f"A_{_h('x')}"
    got = stable_names([(clash, "c", None), ("A", "x", None), ("A", "x", None)])
    assert got[0] == clash and len(set(got)) == 3


def _coll(name: str, namespace: str | None = None, *fields: FieldSpec) -> CollectionSpec:
    return CollectionSpec(
        name=name,
        kind="collection",
        namespace=namespace,
        fields=fields or (FieldSpec(name="id", type=TypeSpec(kind=LogicalType.INT)),),
    )


def _bases(*names: str) -> dict[str, str]:
    colls = sorted((_coll(n) for n in names), key=lambda c: c.name)
    return {c.name: n[("model",)] for c, n in zip(colls, allocate(colls, True), strict=True)}


def test_class_names_do_not_move_when_collections_are_added() -> None:
    assert _bases("My Table!", "my table", "my_table") == {
        "My Table!": f"MyTable_{_h(chr(0) + 'My Table!')}",
        "my table": f"MyTable_{_h(chr(0) + 'my table')}",
        "my_table": "MyTable",
    }
    assert _bases("users") == {"users": "User"}
    assert _bases("user", "users") == {"user": "User", "users": f"User_{_h(chr(0) + 'users')}"}
    # Adding anything that does not want a collection's names leaves all its names alone.
    alone = allocate([_coll("orders")], True)[0]
    with_more = allocate([_coll("aaa"), _coll("orders"), _coll("zzz"), _coll("My Table!")], True)
    assert with_more[1] == alone
    # Namespaced twins: both suffixed, from namespace and name.
    twins = allocate([_coll("users", "a"), _coll("users", "b")], True)
    assert twins[0][("model",)] == f"User_{_h('a' + chr(0) + 'users')}"
    assert twins[0][("model",)] != twins[1][("model",)]


def test_derived_names_variants_beat_nested_and_first_union_variant_wins() -> None:
    obj = TypeSpec(
        kind=LogicalType.OBJECT, fields=(FieldSpec(name="x", type=TypeSpec(kind=LogicalType.INT)),)
    )
    nested = FieldSpec(name="create", type=obj)
    union = FieldSpec(name="owner", type=TypeSpec(kind=LogicalType.UNION, variants=(obj, obj)))
    names = allocate([_coll("order", None, nested, union)], True)[0]
    assert names[("create",)] == "OrderCreate"
    assert names[("f", "create")].startswith("OrderCreate_")
    assert names[("f", "owner", "|0")] == "OrderOwner"
    assert names[("f", "owner", "|1")].startswith("OrderOwner_")
    # A collection named like another's variant owns that name; the variant moves.
    both = allocate([_coll("order"), _coll("order_create")], True)
    assert both[1][("model",)] == "OrderCreate"
    assert both[0][("create",)].startswith("OrderCreate_")
    every = [n for names_ in both for n in names_.values()]
    assert len(every) == len(set(every))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=8), min_size=1, max_size=6, unique=True))
def test_class_names_unique_and_independent_of_unrelated_additions(names: list[str]) -> None:
    colls = sorted((_coll(n) for n in names), key=lambda c: c.name)
    got = allocate(colls, True)
    every = [n for per in got for n in per.values()]
    assert len(every) == len(set(every))
    assert all(n.isidentifier() and n.isascii() for n in every)
    extra = _coll("zz unrelated qq")
    more = allocate(sorted([*colls, extra], key=lambda c: c.name), True)
    wanted = {n for per in more for n in per.values() if "ZzUnrelatedQq" in n}
    for per in more:
        if per[("model",)].startswith("ZzUnrelatedQq"):
            continue
        assert per in got or any(n in wanted for n in per.values())


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
