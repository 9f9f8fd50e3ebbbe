from marshmallow import Schema, ValidationError, fields, validate

from users.accounts import normalize_email
from users.models import User

ROLES = ("customer", "admin")
STATUSES = ("active", "disabled")
EMAIL_LENGTH = User.__table__.c.email.type.length


def fits_the_column(email):
    # Stored normalised, and lower case can be longer ("İ" becomes "i" and a combining dot).
    if len(normalize_email(email)) > EMAIL_LENGTH:
        raise ValidationError(f"Longer than {EMAIL_LENGTH} characters (counted in lower case).")


Email = fields.Email(required=True, validate=fits_the_column)
Name = fields.String(required=True, validate=validate.Length(min=1, max=100))
# argon2 hashes any length, but an unbounded password is a cheap way to burn CPU.
Password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=128))


class CreateUserSchema(Schema):
    email = Email
    name = Name
    password = Password


class UpdateUserSchema(Schema):
    email = fields.Email(validate=fits_the_column)
    name = fields.String(validate=validate.Length(min=1, max=100))
    password = fields.String(load_only=True, validate=validate.Length(min=8, max=128))
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(STATUSES))


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    status = fields.String()
    points = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
