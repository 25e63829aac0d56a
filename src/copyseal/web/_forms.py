"""Parsing query strings and forms into library arguments (lenient about empty fields).

Forms and JSON bodies for a settings model are built from the model itself
(:func:`model_form`, :func:`api_fields`): each key's type picks its input (a checkbox for
``bool``, a text area of one item a line for a list, a number, or text), its ``title`` and
``description`` label it, and its default fills a new form. The model validates the
values afterwards, so a message names the key.
"""

from __future__ import annotations

import types
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from copyseal.review.errors import ReviewError
from copyseal.review.queue import QueueFilter

__all__ = [
    "FLASH",
    "QUEUE_KEYS",
    "FormField",
    "api_fields",
    "form_input",
    "form_values",
    "model_form",
    "queue_filter",
    "queue_query",
    "read_form",
    "safe_next",
]

#: The query parameters of the queue (kept when moving between queue and match pages).
QUEUE_KEYS: Final = ("status", "site", "work", "min_score", "max_score", "from", "to", "sort")
#: Messages the pages may show after a redirect (by code; free text is never reflected).
FLASH: Final = {
    "decided": "Decision recorded and appended to the ledger.",
    "case": "Case created.",
    "added": "Matches added to the case.",
    "exported": "Package exported and recorded in the ledger.",
    "user": "User saved.",
    "target": "Crawl target saved.",
    "target-removed": "Crawl target removed (its crawls, matches and evidence stay).",
}


def _text(params: Mapping[str, str], key: str) -> str | None:
    value = (params.get(key) or "").strip()
    return value or None


def _number(params: Mapping[str, str], key: str) -> float | None:
    value = _text(params, key)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError as e:
        raise ReviewError(f"{key} must be a number") from e


def _date(params: Mapping[str, str], key: str) -> date | None:
    value = _text(params, key)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise ReviewError(f"{key} must be a date (YYYY-MM-DD)") from e


def queue_filter(params: Mapping[str, str], *, per_page: int = 50) -> QueueFilter:
    """The queue filter a query string asks for (``page`` counts from 1)."""
    try:
        page = max(1, int(params.get("page") or 1))
    except ValueError as e:
        raise ReviewError("page must be a number") from e
    return QueueFilter(
        status=_text(params, "status"),
        site=_text(params, "site"),
        work_id=_text(params, "work"),
        min_score=_number(params, "min_score"),
        max_score=_number(params, "max_score"),
        found_from=_date(params, "from"),
        found_to=_date(params, "to"),
        sort=_text(params, "sort") or "newest",
        limit=per_page,
        offset=(page - 1) * per_page,
    )


def queue_query(params: Mapping[str, str]) -> dict[str, str]:
    """The non-empty queue parameters of a query string."""
    return {k: params[k] for k in QUEUE_KEYS if params.get(k)}


def safe_next(value: str | None) -> str:
    """A local path to go to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# -- forms and API bodies built from a pydantic model ------------------------------------

#: How a key is edited: a checkbox, a text area (one item a line), a number or a line.
InputKind = Literal["check", "lines", "number", "text"]


def _kind(annotation: Any) -> InputKind:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else str
    if annotation is bool:
        return "check"
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return "lines"
    if annotation in (int, float):
        return "number"
    return "text"


@dataclass(frozen=True, kw_only=True)
class FormField:
    """One input of a form, made from one key of a model by :func:`model_form`."""

    #: The model's key.
    key: str
    #: The input's ``name`` (the key, unless renamed).
    name: str
    kind: InputKind
    #: The title, with the description in parentheses (lists: "one a line" first).
    label: str
    #: The form refuses to submit it empty (the model has no default for it).
    required: bool
    #: The model's default (None also when it has none): a new form shows it.
    default: Any
    #: An empty text means None (the model's default is None, or the form may omit the
    #: key: a schedule's cron); otherwise an empty text leaves the model's default.
    empty_is_none: bool
    #: The model's first example, shown in an empty text input.
    placeholder: str = ""
    #: A list whose items can hold no comma (domain names) also splits on commas, as a
    #: person types it; set by ``json_schema_extra={"commas_separate": True}``.
    commas_separate: bool = False

    def shown(self, value: Any) -> Any:
        """A model value as the form shows it: a bool for a checkbox, else text."""
        if self.kind == "check":
            return bool(value)
        if value is None:
            return ""
        if self.kind == "lines":
            return "\n".join(str(v) for v in value)
        return str(value)

    def parsed(self, shown: Any) -> Any:
        """What the form shows as the model's input (:data:`_DEFAULT`: leave it out)."""
        if self.kind == "check":
            return bool(shown)
        text = str(shown).strip()
        if self.kind == "lines":
            if self.commas_separate:
                text = text.replace(",", "\n")
            return [line.strip() for line in text.splitlines() if line.strip()]
        if text:
            return text  # the model parses numbers (and names the key if it cannot)
        if self.empty_is_none:
            return None
        return _DEFAULT if not self.required else ""


#: :meth:`FormField.parsed` of an empty text whose key has a default: the key is left out.
_DEFAULT: Final = object()


def model_form(
    model: type[BaseModel],
    *,
    exclude: Collection[str] = (),
    names: Mapping[str, str] | None = None,
    optional: bool = False,
) -> tuple[FormField, ...]:
    """The inputs of a form for ``model``'s keys, in the model's order.

    Args:
        model: The pydantic model; each key's ``title`` and ``description`` label it.
        exclude: Keys the form does not show.
        names: Input names that differ from the keys (``{"enabled": "schedule_enabled"}``).
        optional: The whole group may be left empty (no key is required, and an empty
            text means None).
    """
    fields = []
    for key, info in model.model_fields.items():
        if key in exclude:
            continue
        kind = _kind(info.annotation)
        required = info.is_required() and not optional
        title = info.title or key.replace("_", " ").capitalize()
        hint = "; ".join(
            h for h in ("one a line" if kind == "lines" else "", info.description or "") if h
        )
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        fields.append(
            FormField(
                key=key,
                name=(names or {}).get(key, key),
                kind=kind,
                label=f"{title} ({hint})" if hint else title,
                required=required,
                default=default,
                empty_is_none=optional or (not info.is_required() and default is None),
                placeholder=str(info.examples[0]) if info.examples else "",
                commas_separate=_extra(info, "commas_separate"),
            )
        )
    return tuple(fields)


def _extra(info: FieldInfo, key: str) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get(key) is True


def form_values(fields: Collection[FormField], obj: BaseModel | None = None) -> dict[str, Any]:
    """What a form shows, by input name: ``obj``'s values, or the defaults without one."""
    return {f.name: f.shown(f.default if obj is None else getattr(obj, f.key)) for f in fields}


def read_form(fields: Collection[FormField], form: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted form's values, by input name, as the form shows them again (an
    unchecked box is absent from a submitted form: false)."""
    values: dict[str, Any] = {}
    for f in fields:
        raw = form.get(f.name)
        if f.kind == "check":
            values[f.name] = raw == "1"
        else:
            values[f.name] = raw.strip() if isinstance(raw, str) else ""
    return values


def form_input(fields: Collection[FormField], values: Mapping[str, Any]) -> dict[str, Any]:
    """The model's input, by key, from a form's values (keys left empty that have a
    default are left out, so the model's default applies)."""
    out = {f.key: f.parsed(values.get(f.name, f.shown(f.default))) for f in fields}
    return {k: v for k, v in out.items() if v is not _DEFAULT}


def api_fields(model: type[BaseModel], *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """``model``'s keys as :func:`pydantic.create_model` fields for a JSON body: the same
    types, defaults, titles, descriptions and examples, without the model's constraints
    and validators, so a value of the right type reaches the library, whose validation
    against ``model`` names the key in its message."""
    out: dict[str, Any] = {}
    for key, info in model.model_fields.items():
        if key in exclude:
            continue
        doc: dict[str, Any] = {
            "title": info.title,
            "description": info.description,
            "examples": info.examples,
        }
        spec: FieldInfo
        if info.is_required():
            spec = Field(**doc)
        elif info.default_factory is not None:
            spec = Field(default_factory=info.default_factory, **doc)
        else:
            spec = Field(default=info.default, **doc)
        out[key] = (info.annotation, spec)
    return out
