"""Who may work on a task, and the inbox: indexed queries on the task projection."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, joinedload

from .lanes import role_codes
from .models import HumanTask, ProcessInstance, ProcessVersion, Role, TaskStatus, User, UserRole
from .specs_cache import specs_for


def can_work_on(user: User, task: HumanTask) -> bool:
    """A named assignee gets the task alone; otherwise a holder of one of the lane's roles,
    narrowed to the task's department where it names one."""
    if not user.active:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == user.id
    if not user.role_codes.intersection(task.candidate_roles):
        return False
    return task.candidate_department is None or task.candidate_department == user.department


#: The inbox order: the tasks I claimed first, then the others, each by due time (undated
#: last), then oldest. `ix_human_task_inbox` (migration 0011) holds (status, assignee, lane,
#: department) and then these, so the open tasks of a lane and department that nobody is
#: assigned by name are read off it in this order on SQLite, and a person's assigned tasks are
#: one range. PostgreSQL does not take `assignee_id IS NULL` as fixing that column for the
#: order; it reads each part of the unclaimed tasks off a partial index (migration 0013).
ORDER = ("undated", "due_at", "created_at", "id")


def _order_columns(task) -> tuple:
    """The ORDER columns of `task`: the HumanTask entity or a subquery's columns."""
    return (
        task.due_at.is_(None).label("undated"),
        task.due_at.label("due_at"),
        task.created_at.label("created_at"),
        task.id.label("id"),
    )


_ORDER_COLUMNS = _order_columns(HumanTask)


#: The inbox page counts this far and then says "more than": a busy role holds tens of
#: thousands of open tasks, and counting all of them on every view costs more than the page.
COUNT_LIMIT = 500

_lanes_by_checksum: dict[str, frozenset[str]] = {}


def _lanes(session: Session) -> frozenset[str]:
    """Every lane name of every deployed version (versions are immutable: cached by checksum,
    derived from the specs the runtime caches too)."""
    lanes: set[str] = set()
    for version_id, checksum in session.execute(select(ProcessVersion.id, ProcessVersion.checksum)):
        if checksum not in _lanes_by_checksum:
            spec, subprocess_specs = specs_for(session.get(ProcessVersion, version_id))
            _lanes_by_checksum[checksum] = frozenset(
                task_spec.lane
                for process in (spec, *subprocess_specs.values())
                for task_spec in process.task_specs.values()
                if getattr(task_spec, "lane", None)
            )
        lanes |= _lanes_by_checksum[checksum]
    return frozenset(lanes)


def my_lanes(session: Session, user: User) -> list[str]:
    """The lanes whose tasks the user's roles may take."""
    return sorted(
        lane for lane in _lanes(session) if user.role_codes.intersection(role_codes(lane))
    )


#: Counting "all": a bound limit beyond any inbox, so one statement serves both kinds of count.
_NO_LIMIT = 2**62


@dataclass(frozen=True)
class _Statements:
    claimed: Select  # ordered ids of what I claimed
    unclaimed: Select  # a page of the others' ids: limit, offset
    count: Select  # (claimed, unclaimed up to limit): one round trip


@functools.cache
def _statements(lane_count: int, with_department: bool, postgresql: bool) -> _Statements:
    """The inbox statements for a user with `lane_count` lanes, with or without a department,
    built once with bound parameters: built afresh on each view, SQLAlchemy's cache key for a
    union of a dozen parts costs more than running it. PostgreSQL's are spelled for its
    planner (below)."""
    # The status written out, not bound: PostgreSQL plans a prepared statement (psycopg
    # prepares one run five times) once for any parameters, and a plan for any status cannot
    # use the partial indexes of the open tasks.
    open_task = HumanTask.status == literal(TaskStatus.OPEN, literal_execute=True)

    def departments(task) -> list:
        return [task.candidate_department.is_(None)] + (
            [task.candidate_department == bindparam("department")] if with_department else []
        )

    def may_take(task):
        return or_(
            task.assignee_id == bindparam("user_id"),
            and_(
                task.assignee_id.is_(None),
                task.lane.in_(bindparam("lanes", expanding=True)),
                or_(*departments(task)),
            ),
        )

    mine = (open_task, HumanTask.claimed_by_id == bindparam("user_id"))
    if postgresql:
        # What I claimed read alone first, off ix_human_task_claimed, then filtered (OFFSET 0
        # keeps the subquery from being merged): otherwise PostgreSQL, misjudging how many open
        # tasks a person holds, read every open task of my lanes off ix_human_task_inbox and
        # filtered the claimer out there or joined them to my claims (5 ms for the front clerk).
        task = (
            select(
                HumanTask.id,
                HumanTask.due_at,
                HumanTask.created_at,
                HumanTask.assignee_id,
                HumanTask.lane,
                HumanTask.candidate_department,
            )
            .where(*mine)
            .offset(0)
            .subquery()
            .c
        )
        claimed = select(*_order_columns(task)).where(may_take(task))
    else:
        claimed = select(*_ORDER_COLUMNS).where(*mine, may_take(HumanTask))
    # Spelled so that no index can serve it: the unclaimed are nearly all open tasks, a skew
    # SQLite's statistics do not show, and it would otherwise walk ix_human_task_claimed.
    base = select(*_ORDER_COLUMNS).where(open_task, HumanTask.claimed_by_id.is_(None) == true())
    wheres = [
        (HumanTask.lane == bindparam(f"lane_{index}"), department, HumanTask.assignee_id.is_(None))
        for index in range(lane_count)
        for department in departments(HumanTask)
    ]
    wheres.append((HumanTask.assignee_id == bindparam("user_id"),))
    parts = [base.where(*where) for where in wheres]
    if postgresql:
        # PostgreSQL plans each part of a union with its own WHERE as a subquery of its own,
        # for the whole of its result unless told otherwise: a bitmap scan of every open task
        # of the lane, then one sort of them all. Ordered and cut at the page's end, each part
        # reads its first rows off an index (migration 0013) and the union merges them
        # (`Merge Append`). SQLite merges the plain parts already, and would sort each
        # subquery's rows again.
        part_limit = bindparam("part_limit", type_=Integer, literal_execute=True)
        parts = [select(part.order_by(*ORDER).limit(part_limit).subquery()) for part in parts]
    unclaimed = union_all(*parts)
    # Limits and offset written out too: a plan made for any limit cannot count on stopping
    # early and reads whole lanes. Each page size and page number is a statement of its own.
    limit = bindparam("limit", type_=Integer, literal_execute=True)

    return _Statements(
        claimed=claimed.order_by(*ORDER),
        unclaimed=unclaimed.order_by(*ORDER)
        .limit(limit)
        .offset(bindparam("offset", type_=Integer, literal_execute=True)),
        count=select(
            # No limit on the claimed: PostgreSQL, counting on a LIMIT being reached early,
            # would read the whole table for someone whose finished tasks (claimed too) are many.
            select(func.count()).select_from(claimed.subquery()).scalar_subquery(),
            select(func.count()).select_from(unclaimed.limit(limit).subquery()).scalar_subquery(),
        ),
    )


def _prepared(session: Session, user: User) -> tuple[_Statements, dict]:
    """The statements of `user`'s inbox and their parameters.

    What I claimed and may still work on (a person's own handful, sorted as it is), and the
    unclaimed tasks I may take as a union of parts each read in the inbox order from one index
    range: one part per lane of my roles and department (none, or mine) for the unassigned,
    and the tasks assigned to me by name. The database merges the ordered parts and stops at
    the page, where one query over every lane would sort all open tasks of a busy role first.
    The rule is `can_work_on`'s (whose roles are the lane's)."""
    lanes = my_lanes(session, user)
    params = {"user_id": user.id, "lanes": lanes, "department": user.department}
    params |= {f"lane_{index}": lane for index, lane in enumerate(lanes)}
    postgresql = session.get_bind().dialect.name == "postgresql"
    return _statements(len(lanes), user.department is not None, postgresql), params


def inbox(session: Session, user: User, *, limit: int = 50, offset: int = 0) -> list[HumanTask]:
    """A page of the open tasks this user may work on and nobody else has claimed, in the
    inbox order, with each task's instance loaded (the page shows its reference and title; a
    lazy load per row would be 50 more round trips)."""
    statements, params = _prepared(session, user)
    claimed = [row.id for row in session.execute(statements.claimed, params)]
    ids = claimed[offset : offset + limit]
    if len(ids) < limit:
        rest = {"limit": limit - len(ids), "offset": max(offset - len(claimed), 0)}
        rest["part_limit"] = rest["limit"] + rest["offset"]  # a part may fill the page alone
        ids += [row.id for row in session.execute(statements.unclaimed, params | rest)]
    if not ids:
        return []
    # The instance without its version: a page shows only the instance's own columns. Joined
    # in the same query: a round trip fewer, which on a busy server is most of a query's cost.
    instance = joinedload(HumanTask.instance).lazyload(ProcessInstance.version)
    tasks = session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)).options(instance))
    by_id = {task.id: task for task in tasks}
    return [by_id[task_id] for task_id in ids]


def inbox_count(session: Session, user: User, *, at_most: int | None = None) -> int:
    """How many tasks the inbox holds; with `at_most`, counting stops after at_most + 1, so a
    result above `at_most` means "more than at_most" (a busy role has tens of thousands of
    open tasks, and counting every one on each page view would cost more than the page)."""
    statements, params = _prepared(session, user)
    limit = _NO_LIMIT if at_most is None else at_most + 1
    bounds = {"limit": limit, "part_limit": limit}
    claimed, unclaimed = session.execute(statements.count, params | bounds).one()
    return min(claimed + unclaimed, limit)


def eligible_users(session: Session, role_codes: list[str]) -> list[User]:
    """Active users holding any of `role_codes`, by name."""
    return list(
        session.scalars(
            select(User)
            .join(UserRole)
            .join(Role)
            .where(User.active.is_(True), Role.code.in_(role_codes))
            .distinct()
            .order_by(User.display_name)
        )
    )
