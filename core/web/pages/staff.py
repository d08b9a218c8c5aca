"""Staff tools: looking members up."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Template

from core.db.engine import ilike
from core.people.tables import Person

PAGE_SIZE = 50


class StaffController(Controller):
    path = "/staff"
    include_in_schema = False

    @get("/people")
    async def people(self, q: FromQuery[str] = "", page: FromQuery[int] = 1) -> Template:
        page = max(page, 1)
        q = q.strip()[:200]
        query = Person.select(
            Person.id,
            Person.email,
            Person.given_name,
            Person.family_name,
            Person.postal_code,
            Person.region,
            Person.subscription,
            Person.created_at,
        )
        count = Person.count()
        if q:
            term = f"%{q}%"
            condition = (
                ilike(Person.email, term)
                | ilike(Person.given_name, term)
                | ilike(Person.family_name, term)
                | ilike(Person.postal_code, term)
            )
            query = query.where(condition)
            count = count.where(condition)
        rows = (
            await query.order_by(Person.id, ascending=False).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        )
        total = await count
        return Template(
            template_name="staff/people.html",
            context={
                "people": rows,
                "q": q,
                "page": page,
                "total": total,
                "has_next": page * PAGE_SIZE < total,
            },
        )
