"""Accounts: sign up, read, change and delete (self or admin), list (admin)."""

from flask import Blueprint

from gateway import auth
from gateway.api import endpoint, idempotency_header, request_idempotency_key, rpc
from gateway.schemas import (
    PageQuerySchema,
    SignUpSchema,
    UserPageSchema,
    UserPatchSchema,
    UserResponse,
)

bp = Blueprint("users", __name__, url_prefix="/api/users")

ADMIN_ONLY_FIELDS = ("role", "status")


@bp.post("")
@endpoint(
    "Sign up",
    body=SignUpSchema,
    response=UserResponse,
    status=201,
    errors=(409,),
    headers=(
        idempotency_header(
            "with the same email, name and password, within 10 minutes and while the"
            " account is active, answers 201 with the account it made (409 otherwise,"
            " as for any taken email)"
        ),
    ),
)
def sign_up(body):
    return rpc("users", "create_user", body, idempotency_key=request_idempotency_key())


@bp.get("/me")
@endpoint("The logged-in user", access="user", response=UserResponse, errors=(404,))
def me(caller):
    return rpc("users", "get_user", caller.id)


@bp.get("")
@endpoint("List users", access="admin", query=PageQuerySchema, response=UserPageSchema)
def list_users(query):
    return rpc("users", "list_users", page=query["page"], per_page=query["per_page"])


@bp.get("/<int:user_id>")
@endpoint("One user (self or admin)", access="user", response=UserResponse, errors=(403, 404))
def get_user(caller, user_id):
    auth.check_self_or_admin(caller, user_id)
    return rpc("users", "get_user", user_id)


@bp.patch("/<int:user_id>")
@endpoint(
    "Change a user (role and status: admin only)",
    access="user",
    body=UserPatchSchema,
    response=UserResponse,
    errors=(403, 404, 409),
)
def update_user(caller, user_id, body):
    auth.check_self_or_admin(caller, user_id)
    if not caller.is_admin and any(key in body for key in ADMIN_ONLY_FIELDS):
        raise auth.forbidden("Only admins may change role or status")
    user = rpc("users", "update_user", user_id, body)
    auth.forget_account(user_id)  # this worker sees a new role or status at once
    return user


@bp.delete("/<int:user_id>")
@endpoint("Delete a user (soft delete)", access="user", status=204, errors=(403, 404))
def delete_user(caller, user_id):
    auth.check_self_or_admin(caller, user_id)
    rpc("users", "delete_user", user_id)
    auth.forget_account(user_id)
