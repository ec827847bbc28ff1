"""Which of the studio's modes are offered here: those whose upstream is on (not a view; the
studio's page and the picker both ask)."""

from generations import providers
from generations.forms import MODE_FORMS, MODES


def available_modes() -> dict[str, str]:
    """The modes whose upstream is on here, by name; another upstream's carry its name."""
    names = {provider.name: provider.display_name for provider in providers.enabled()}
    return {
        mode: label if MODE_FORMS[mode].PROVIDER == "agents" else f"{label} · {names[provider]}"
        for mode, label in MODES.items()
        if (provider := MODE_FORMS[mode].PROVIDER) in names
    }
