"""The English sentences of the validation libraries that reach an import's reasons, marked
for the catalogs so a Russian report can say them too (`herald.i18n.translate_reason`).

email-validator's, phonenumbers' and Python's date messages are not translated by those
libraries; these are the ones a marketer meets most. Others stay in English inside a
translated reason.
"""

from __future__ import annotations

from herald.i18n import N_

EMAIL_VALIDATOR = (
    N_("An email address must have an @-sign."),
    N_("There must be something before the @-sign."),
    N_("There must be something after the @-sign."),
    N_("The part after the @-sign is not valid. It should have a period."),
    N_("The part after the @-sign is not valid. It is not within a valid top-level domain."),
    N_("An email address cannot have two periods in a row."),
    N_("An email address cannot have a period and a hyphen next to each other."),
    N_("An email address cannot start with a period."),
    N_("An email address cannot end with a period."),
    N_("The email address contains invalid characters before the @-sign: {chars}."),
    N_("The part after the @-sign contains invalid characters: {chars}."),
    N_(
        "The part after the @-sign is a special-use or reserved name that cannot be used "
        "with email."
    ),
    N_("The email address contains an invalid character."),
    N_("The email address is not valid ASCII."),
    N_("There can't be anything after the email address."),
    N_("A display name and angle brackets around the email address are not permitted here."),
    N_("Internationalized characters before the @-sign are not supported."),
    N_("The email address is too long {count}."),
    N_("The email address is too long before the @-sign {count}."),
    N_("The email address is too long after the @-sign {count}."),
    N_("({count} character too many)"),
    N_("({count} characters too many)"),
)
# Python's own date errors, as `datetime` raises them.
DATES = (
    N_("month must be in 1..12"),
    N_("day is out of range for month"),
    N_("year {year} is out of range"),
)
PHONENUMBERS = (
    N_("The string supplied did not seem to be a phone number."),
    N_("The string supplied is too short to be a phone number."),
    N_("The string supplied is too long to be a phone number."),
    N_("Missing or invalid default region."),
    N_("Could not interpret numbers after plus-sign."),
)
