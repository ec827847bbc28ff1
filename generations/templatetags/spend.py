"""Template filters for money: estimated cents as dollars."""

from decimal import Decimal

from django import template

from generations import spend

register = template.Library()


@register.filter
def usd(cents: Decimal | int | None) -> str:
    return spend.usd(cents)
