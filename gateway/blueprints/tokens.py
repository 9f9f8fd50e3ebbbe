"""Log in: trade email and password for a bearer token."""

from flask import Blueprint

from gateway.api import endpoint, rpc
from gateway.schemas import CredentialsSchema, TokenSchema

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


@bp.post("/token")
@endpoint("Log in", body=CredentialsSchema, response=TokenSchema, errors=(401,))
def issue_token(body):
    return rpc("users", "login", body["email"], body["password"])
