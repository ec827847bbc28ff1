"""Which of the studio's modes are offered here: those whose upstream is on (not a view; the
studio's page and the picker both ask)."""

from generations import providers
from generations.forms import MODE_FORMS, MODES


def available_modes() -> dict[str, tuple[str, str]]:
    """The modes whose upstream is on here: each one's label, and the short name of its upstream
    (none for the Agents API), a small tag on its tab."""
    tags = {
        provider.name: "" if provider.name == "agents" else _tag(provider.display_name)
        for provider in providers.enabled()
    }
    return {
        mode: (label, tags[provider])
        for mode, label in MODES.items()
        if (provider := MODE_FORMS[mode].PROVIDER) in tags
    }


def _tag(name: str) -> str:
    """A provider's name as a tab's tag: "Luma Dream Machine API" becomes "Dream Machine"."""
    short = name.removeprefix("Luma ").removesuffix(" API")
    return short[:1].upper() + short[1:]


def mode_groups(modes: dict[str, tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The modes by upstream, for the phone's list of them: each upstream's name for people,
    and its modes' keys and labels, in the tabs' order. A label carries its tab's tag: the
    closed list shows the chosen one alone ("Video · Dream Machine", not "Video")."""
    names = {provider.name: provider.display_name for provider in providers.enabled()}
    groups: dict[str, list[tuple[str, str]]] = {}
    for mode, (label, tag) in modes.items():
        shown = f"{label} · {tag}" if tag else label
        groups.setdefault(names[MODE_FORMS[mode].PROVIDER], []).append((mode, shown))
    return list(groups.items())
