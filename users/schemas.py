from marshmallow import Schema, ValidationError, fields, validate

from shop.contract import (
    EMAIL_LENGTH,
    LOGIN_PASSWORD_LENGTH,
    PASSWORD_LENGTH,
    ROLES,
    USER_NAME_LENGTH,
    USER_STATUSES,
    normalize_email,
)
from shop.validation import IdempotencyKey

_, MAX_EMAIL = EMAIL_LENGTH


def fits_the_column(email):
    # Stored normalised, and lower case can be longer ("İ" becomes "i" and a combining dot).
    if len(normalize_email(email)) > MAX_EMAIL:
        raise ValidationError(f"Longer than {MAX_EMAIL} characters (counted in lower case).")


Email = fields.Email(required=True, validate=fits_the_column)
Name = fields.String(required=True, validate=validate.Length(*USER_NAME_LENGTH))
Password = fields.String(required=True, load_only=True, validate=validate.Length(*PASSWORD_LENGTH))


class CreateUserSchema(Schema):
    email = Email
    name = Name
    password = Password


class SignUpKeySchema(Schema):
    idempotency_key = IdempotencyKey


class UpdateUserSchema(Schema):
    email = fields.Email(validate=fits_the_column)
    name = fields.String(validate=validate.Length(*USER_NAME_LENGTH))
    password = fields.String(load_only=True, validate=validate.Length(*PASSWORD_LENGTH))
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(USER_STATUSES))


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(*EMAIL_LENGTH))
    password = fields.String(required=True, validate=validate.Length(*LOGIN_PASSWORD_LENGTH))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    status = fields.String()
    points = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
