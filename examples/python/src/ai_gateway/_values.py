"""Plain Python values <-> what wasmtime-py passes across the boundary.

Both directions are driven by the component's own types (from
`Func.type(store)`), so nothing here repeats the WIT:

- records are dicts keyed by the WIT field names (kebab-case);
- variants are ``{"tag": case, "val": payload}`` (``"val"`` absent or None
  for a case without payload); a payload-less case may also be given as its
  bare name (``"auto"``);
- enums are their case name, options None or the value, lists lists,
  tuples tuples, ``list<u8>`` bytes.

Lowering is strict, because a gateway must not change a request silently
(docs DESIGN.md "Nothing silently changed"): an unknown field or case is a
`ValueError` naming it. A missing field is filled only when the WIT type
has an obvious empty value (an `option` becomes None, a `list` empty);
any other missing field is a `ValueError` too.
"""

from __future__ import annotations

from typing import Any

import wasmtime.component as wc

#: Resource handles pass through untouched in both directions.
RESOURCES = (wc.ResourceAny, wc.ResourceHost)


def _case_classes(ty: Any) -> tuple[type, ...]:
    classes: set[type] = set()
    if ty is None:
        classes.add(type(None))
    else:
        ty.add_classes(classes)
    return tuple(classes)


def lower(value: Any, ty: Any, path: str = "value") -> Any:
    """Python value -> wasmtime-py value of WIT type `ty`. `path` names the
    value in error messages (``config.providers[0].kind``)."""
    if isinstance(value, RESOURCES):
        return value
    if isinstance(ty, wc.RecordType):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a dict with the WIT record's fields, got {type(value).__name__}")
        fields = list(ty.fields)
        unknown = set(value) - {name for name, _ in fields}
        if unknown:
            raise ValueError(f"{path}: unknown field(s) {sorted(unknown)}; the record has {[n for n, _ in fields]}")
        rec = wc.Record()
        for name, field_ty in fields:
            if name in value:
                v = value[name]
            elif isinstance(field_ty, wc.OptionType):
                v = None
            elif isinstance(field_ty, wc.ListType) and not isinstance(field_ty.element, wc.U8):
                v = []
            else:
                raise ValueError(f"{path}: missing required field {name!r}")
            setattr(rec, name, lower(v, field_ty, f"{path}.{name}"))
        return rec
    if isinstance(ty, wc.OptionType):
        return None if value is None else lower(value, ty.payload, path)
    if isinstance(ty, wc.ListType):
        if isinstance(ty.element, wc.U8):
            return bytes(value)
        if isinstance(value, (str, bytes, dict)):
            raise ValueError(f"{path}: expected a list, got {type(value).__name__}")
        return [lower(v, ty.element, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(ty, wc.TupleType):
        elements = list(ty.elements)
        value = tuple(value)
        if len(value) != len(elements):
            raise ValueError(f"{path}: expected a tuple of {len(elements)}")
        return tuple(lower(v, t, f"{path}[{i}]") for i, (v, t) in enumerate(zip(value, elements)))
    if isinstance(ty, wc.VariantType):
        cases = dict(ty._cases())
        if isinstance(value, str) and value in cases and cases[value] is None:
            value = {"tag": value}
        elif isinstance(value, str):
            # The plain-text shortcut (`content`: "hi" for text("hi")): a
            # bare str is the variant's one string case, if it has one.
            strings = [c for c, p in cases.items() if isinstance(p, wc.String)]
            if len(strings) == 1:
                value = {"tag": strings[0], "val": value}
        if not isinstance(value, dict) or "tag" not in value:
            raise ValueError(f"{path}: expected {{'tag': one of {sorted(cases)}, 'val': ...}}, got {value!r}")
        unknown = set(value) - {"tag", "val"}
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)} in a variant")
        tag = value["tag"]
        if tag not in cases:
            raise ValueError(f"{path}: {tag!r} is not one of {sorted(cases)}")
        payload_ty = cases[tag]
        if payload_ty is None:
            if value.get("val") is not None:
                raise ValueError(f"{path}: case {tag!r} carries no value")
            payload = None
        else:
            if "val" not in value:
                raise ValueError(f"{path}: case {tag!r} needs a 'val'")
            payload = lower(value["val"], payload_ty, f"{path}.{tag}")
        # wasmtime-py passes an untagged variant (cases told apart by their
        # Python type, like `ai-input`) as its bare payload.
        return wc.Variant(tag, payload) if ty._tagged() else payload
    if isinstance(ty, wc.EnumType):
        names = ty.names
        if value not in names:
            raise ValueError(f"{path}: {value!r} is not one of {names}")
        return value
    if isinstance(ty, (wc.F32, wc.F64)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if isinstance(ty, (wc.U8, wc.U16, wc.U32, wc.U64, wc.S8, wc.S16, wc.S32, wc.S64)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        return value
    if isinstance(ty, wc.Bool):
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected a bool, got {value!r}")
        return value
    if isinstance(ty, wc.String):
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected a str, got {type(value).__name__}")
        return value
    return value


def lift(value: Any, ty: Any) -> Any:
    """wasmtime-py value of WIT type `ty` -> plain Python (see module doc)."""
    if isinstance(value, RESOURCES):
        return value
    if isinstance(ty, wc.RecordType):
        return {name: lift(getattr(value, name), field_ty) for name, field_ty in ty.fields}
    if isinstance(ty, wc.OptionType):
        return None if value is None else lift(value, ty.payload)
    if isinstance(ty, wc.ListType):
        if isinstance(ty.element, wc.U8):
            return bytes(value)
        return [lift(v, ty.element) for v in value]
    if isinstance(ty, wc.TupleType):
        return tuple(lift(v, t) for v, t in zip(value, ty.elements))
    if isinstance(ty, wc.VariantType):
        cases = list(ty._cases())
        if ty._tagged():
            tag, payload = value.tag, value.payload
        else:
            tag, payload = next(
                (name, value) for name, case_ty in cases if isinstance(value, _case_classes(case_ty))
            )
        payload_ty = dict(cases)[tag]
        return {"tag": tag, "val": None if payload_ty is None else lift(payload, payload_ty)}
    return value


def split_result(value: Any, ty: Any) -> tuple[bool, Any]:
    """A `result<ok, err>` value -> (is_ok, payload), for tagged and untagged
    results alike (wasmtime-py passes `result<record, variant>` as the bare
    payload, `result<T, T>` as `Variant("ok" | "err", payload)`)."""
    if ty._tagged():
        return value.tag == "ok", value.payload
    if ty.err is not None and isinstance(value, _case_classes(ty.err)):
        return False, value
    return True, value
