"""`{% card generation %}`: a gallery card from the shared cache, with this viewer's bits."""

from typing import Any

from django import template
from django.utils.safestring import SafeString

from generations import cards
from generations.models import Generation

register = template.Library()


@register.simple_tag(takes_context=True)
def card(context: Any, generation: Generation) -> SafeString:
    return cards.render_card(context.request, generation, board=context.get("board"))


@register.simple_tag(takes_context=True)
def star_form(context: Any, generation: Generation) -> SafeString:
    return cards.star_form(context.request, generation)
