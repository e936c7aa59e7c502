"""The customer profile (`/customers/…`, staff only): what a customer did, and the tags and
private notes staff keep about them. And anyone's own data, as a JSON download (Settings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import customers
from server.actions.customers import note_customer, tag_customer
from server.errors import NotFound
from server.i18n import N_
from server.models import Role, User
from server.people import user_by_id
from server.queries import is_id
from server.views.common import is_htmx, page, publisher_of, signed_in, staff_only


async def _customer(user: User, user_id: str) -> User:
    """The customer whose profile staff open; a staff account's id is named as such."""
    customer = await customers.customer_for(user, user_id)
    if customer is not None:
        return customer
    other = await user_by_id(user_id) if is_id(user_id) else None
    if other is not None and other.role != Role.CUSTOMER:
        raise NotFound(N_("{name} is on staff, not a customer: there is no customer profile"),
                       name=other.display_name)  # fmt: skip
    raise NotFound(N_("customer not found"))


@signed_in
@staff_only
async def profile_page(request: Request, user: User) -> Response:
    customer = await _customer(user, request.path_params["user_id"])
    section = request.query_params.get("section")
    if is_htmx(request) and section in ("tags", "notes"):  # a colleague changed it (live)
        return await _section(request, user, customer, section)
    found = await customers.profile(user, customer)
    response = page(request, user, "customer.html", p=found, person=customer)
    response.headers["Cache-Control"] = "private, no-store"  # never in a shared cache
    return response


async def _section(request: Request, user: User, customer: User, section: str) -> Response:
    """One section of the profile, as it is now (htmx swaps it in place)."""
    if section == "tags":
        return page(request, user, "_customer_tags.html", person=customer,
                    tags=await customers.tags_of(customer))  # fmt: skip
    found, count = await customers.notes_of(customer)
    return page(request, user, "_customer_notes.html", person=customer, notes=found,
                note_count=count)  # fmt: skip


@signed_in
@staff_only
async def tags(request: Request, user: User) -> Response:
    """Add a tag (`tag`) or remove one (`tag`, `remove=1`); htmx gets the tags section."""
    form = await request.form()
    user_id = request.path_params["user_id"]
    await tag_customer(
        publisher_of(request), user, user_id, form.get("tag"), remove=form.get("remove") == "1"
    )
    if is_htmx(request):
        return await _section(request, user, await _customer(user, user_id), "tags")
    return RedirectResponse(f"/customers/{user_id}#tags", status_code=303)


@signed_in
@staff_only
async def notes(request: Request, user: User) -> Response:
    """Keep a private note about the customer; htmx gets the notes section."""
    form = await request.form()
    user_id = request.path_params["user_id"]
    await note_customer(publisher_of(request), user, user_id, form.get("body"))
    if is_htmx(request):
        return await _section(request, user, await _customer(user, user_id), "notes")
    return RedirectResponse(f"/customers/{user_id}#notes", status_code=303)


@signed_in
async def export(request: Request, user: User) -> Response:
    """Download one's own data as JSON (Settings: "Download my data")."""
    now = datetime.now(UTC)
    data = {"exported_at": now.isoformat(), **await customers.export_of(user)}
    name = f"dreiklang-export-{now:%Y-%m-%d}.json"
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "private, no-store"},
    )  # fmt: skip
