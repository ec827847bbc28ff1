"""Rules checked while the person edits the creation form: what their latest choice turned off,
and what the combination as it stands would be refused for, in words, before Generate.

The schema decides (forms.base: `disabled_options`, `combination_problems`); this only says it.
A ticked option the combination rules out is turned off on the page, so its notice names it.
"""

from typing import Any

from django.http import QueryDict

from generations.forms import CreateForm, OptionRow


def notices(form: CreateForm, rows: list[OptionRow]) -> list[str]:
    """What changed and why, then what is still wrong with the combination."""
    said: list[str] = []
    turned_off: list[str] = []
    for row in rows:
        field, value = row.field, row.field.value()
        if row.is_checkbox and value and "on" in row.disabled:
            turned_off.append(field.name)
            said.append(f"{field.label} is off: {row.disabled['on']}")
        elif row.is_choice and value not in (None, "") and str(value) in row.disabled:
            chosen = dict(field.field.choices).get(str(value), value)  # type: ignore[attr-defined]
            said.append(f"{field.label} {chosen} is not available: {row.disabled[str(value)]}")
    # The request as the page will send it: without what was just turned off.
    data: QueryDict = form.data.copy()  # type: ignore[assignment]
    for name in turned_off:
        data.pop(name, None)
    as_sent = type(form)(data)
    labels = _labels(as_sent)
    for name, messages in as_sent.combination_problems().items():
        if name in labels and _filled(as_sent, name) and name not in turned_off:
            said += [f"{labels[name]}: {message}" for message in messages]
    return list(dict.fromkeys(said))


def _labels(form: CreateForm) -> dict[str, str]:
    """The words the page shows for each field a message may land on (never the prompt: an
    empty prompt is only unfinished)."""
    labels: dict[str, str] = {name: str(form[name].label) for name in form.PROBED}
    labels["keyframes"] = "Keyframes"
    for slot in form.SLOTS:
        labels[slot.name] = labels[f"{slot.name}_pick"] = slot.label or slot.name
    return labels


def _filled(form: CreateForm, name: str) -> bool:
    """A slot the person has not filled yet is unfinished, not wrong: its gaps are not said."""
    slot = name.removesuffix("_pick")
    if slot not in {s.name for s in form.SLOTS}:
        return True
    data: Any = form.data
    return bool(data.get(f"{slot}_pick")) or (data.get(f"{slot}_count") or "0") not in ("", "0")
