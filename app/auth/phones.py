"""Phone number validation and normalisation to E.164 with the `phonenumbers` library."""

from __future__ import annotations

import phonenumbers

from app.errors import invalid
from app.i18n.messages import N_


def normalise_phone(raw: str, default_region: str, field: str = "phone") -> str:
    try:
        number = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException:
        raise invalid(field, N_("Not a phone number.")) from None
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, N_("Not a valid phone number."))
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise invalid(field, N_("A mobile number is needed to receive a login code."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(phone: str) -> str:
    """+8613812345678 -> +86138****5678, for logs."""
    return phone[:-8] + "****" + phone[-4:] if len(phone) > 8 else "****"
