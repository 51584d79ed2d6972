"""THE access-control table: every endpoint of the app × method → who gets which status.

`tests/security/test_access_matrix.py` requests every route of `app.url_map` as anonymous and
as a user of every role of `engine.identity.ROLE_LABELS` and compares the status with this
table. A route that is not declared here fails that test: add it, deciding who may use it.

How a request is made: GET without a query; POST with a valid CSRF token and an EMPTY form
(so an allowed POST usually answers 302 with a flashed refusal, or 422 for a form), never
following redirects. URL parameters come from `PARAMS` (by parameter name) or an entry's own
`args`: `@name` values are real rows made by the test (see `test_access_matrix.objects`):

  @p3_instance  a P3 instance started by the front clerk, waiting at `record_contact`
  @p3_task      its `record_contact` task (lane front_clerk), unclaimed
  @attachment   a PDF attached to @p3_instance by the front clerk
  @visit, @booking, @pass   a P1 visit, a P2 booking, a P4 pass from the demo data
  @p3_version   the deployed P3 version
  @missing      an id no row has (routes on drafts use it: owners get 404, others 403)

Users: the demo user of each role (named by the code; `dept_supervisor` is `sup_security`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.identity import ROLE_LABELS

ANONYMOUS = "anonymous"
ALL_ROLES: frozenset[str] = frozenset(ROLE_LABELS)


@dataclass(frozen=True)
class Expect:
    """Who may: `allowed` roles get `ok` (None: every signed-in role); other signed-in roles
    get `denied`; anonymous gets `anonymous` (302 = sent to the sign-in page)."""

    allowed: frozenset[str] | None
    ok: int = 200
    denied: int = 403
    anonymous: int = 302
    args: dict[str, str] = field(default_factory=dict)
    #: role → status, for the few roles that differ from the rule above (say why where used).
    exceptions: dict[str, int] = field(default_factory=dict)

    def status_for(self, identity: str) -> int:
        if identity == ANONYMOUS:
            return self.anonymous
        if identity in self.exceptions:
            return self.exceptions[identity]
        if self.allowed is None or identity in self.allowed:
            return self.ok
        return self.denied


def public(status: int = 200, **kwargs) -> Expect:
    """Anyone, signed in or not, gets `status`."""
    return Expect(allowed=None, ok=status, anonymous=status, **kwargs)


def signed_in(ok: int = 200, **kwargs) -> Expect:
    return Expect(allowed=None, ok=ok, **kwargs)


def roles(*codes: str, ok: int = 200, **kwargs) -> Expect:
    unknown = set(codes) - ALL_ROLES
    assert not unknown, f"unknown role codes in the access matrix: {unknown}"
    return Expect(allowed=frozenset(codes), ok=ok, **kwargs)


def writers(ok: int = 302, **kwargs) -> Expect:
    """Every signed-in role but the read-only auditor (web/blueprints/audit.py refuses every
    write of a person holding only read-only roles)."""
    return roles(*(ALL_ROLES - {"auditor"}), ok=ok, **kwargs)


#: Default values of URL parameters, by name.
PARAMS: dict[str, str] = {
    "task_id": "@p3_task",
    "instance_id": "@p3_instance",
    "attachment_id": "@attachment",
    "visit_id": "@visit",
    "booking_id": "@booking",
    "pass_id": "@pass",
    "process_id": "p3_owner_reception",
    "code": "en",
    "day": "2026-10-01",
    "fmt": "csv",
    "kind": "csv",
    "filename": "css/app.css",
    "draft_id": "@missing",
    "notification_id": "@missing",  # own ones: tests/web/test_notifications.py
    "version_id": "@p3_version",
    "name": "p3_owner_reception.bpmn",
}

P3_READERS = ("front_clerk", "manager_assistant", "project_manager", "auditor")
P1_READERS = (
    "reception_officer",
    "deputy_director",
    "director",
    "univ_leader",
    "party_office",
    "process_owner",
    "auditor",
)
P2_READERS = ("hotline", "meeting_lead", "meeting_attendant", "av_tech", "cashier", "auditor")
P4_READERS = ("front_clerk", "cashier", "manager_assistant", "project_manager", "auditor")
#: Who sees @p3_instance: its starter's role (and lane), and the overseers.
P3_INSTANCE_VIEWERS = ("front_clerk", "process_owner", "auditor")

MATRIX: dict[str, dict[str, Expect]] = {
    # --- auth --------------------------------------------------------------------------------
    "static": {"GET": public()},
    "auth.index": {"GET": signed_in(302)},
    # Signed-in people are sent on from the sign-in page.
    "auth.login": {"GET": signed_in(302, anonymous=200), "POST": signed_in(302, anonymous=200)},
    "auth.logout": {"POST": public(302)},
    "auth.set_language": {"GET": public(302)},
    # --- tasks -------------------------------------------------------------------------------
    "tasks.inbox": {"GET": signed_in()},
    "tasks.show": {"GET": roles("front_clerk")},
    # An empty submission is refused with the form's messages (422); nothing is saved.
    "tasks.complete": {"POST": roles("front_clerk", ok=422)},
    "tasks.claim": {"POST": roles("front_clerk", ok=302)},
    "tasks.unclaim": {"POST": roles("front_clerk", ok=302)},
    "tasks.team": {
        "GET": roles(
            "project_manager",
            "manager_assistant",
            "director",
            "deputy_director",
            "meeting_lead",
            "sales_manager",
            "admin",
        )
    },
    # --- notifications (each person's own; tests/web/test_notifications.py: another's is 404) --
    "notifications.index": {"GET": signed_in()},
    # No notification is anybody's here: 404 for all; the read-only auditor is refused first.
    "notifications.open_notification": {"POST": writers(404)},
    "notifications.mark_read": {"POST": writers(404)},
    "notifications.mark_all_read": {"POST": writers(302)},
    # --- instances ---------------------------------------------------------------------------
    "instances.index": {"GET": signed_in()},
    "instances.start_list": {"GET": signed_in()},
    # Anyone may ask; who may not start P3 is told so on the start page (302 + message).
    "instances.start": {"POST": writers(302)},
    "instances.detail": {"GET": roles(*P3_INSTANCE_VIEWERS)},
    "instances.diagram": {"GET": roles(*P3_INSTANCE_VIEWERS)},
    "instances.retry": {"POST": roles("process_owner", ok=302)},
    # --- attachments -------------------------------------------------------------------------
    "attachments.download": {"GET": roles(*P3_INSTANCE_VIEWERS)},
    # Viewers who may not add files (the auditor) get 403; an empty upload is refused (302).
    "attachments.upload": {"POST": roles("front_clerk", "process_owner", ok=302)},
    # --- registers ---------------------------------------------------------------------------
    "registers.complaint_ledger": {"GET": roles(*P3_READERS)},
    "registers.complaint_ledger_csv": {"GET": roles(*P3_READERS)},
    "registers.complaint_report": {"GET": roles(*P3_READERS, "process_owner")},
    # Narrower than the report page itself: process owners see the report but cannot export.
    "registers.complaint_report_export": {"GET": roles(*P3_READERS)},
    "registers.complaint_report_schedule": {"POST": roles("process_owner", ok=302)},
    "visits.index": {"GET": roles(*P1_READERS)},
    "visits.detail": {"GET": roles(*P1_READERS)},
    "visits.print_view": {"GET": roles(*P1_READERS)},
    "visits.export_csv": {"GET": roles(*P1_READERS)},
    "visits.export_xlsx": {"GET": roles(*P1_READERS)},
    "bookings.index": {"GET": roles(*P2_READERS)},
    "bookings.detail": {"GET": roles(*P2_READERS)},
    "bookings.print_view": {"GET": roles(*P2_READERS)},
    "bookings.export_csv": {"GET": roles(*P2_READERS)},
    "bookings.export_xlsx": {"GET": roles(*P2_READERS)},
    "bookings.material_request": {"POST": roles("meeting_attendant", "meeting_lead", ok=302)},
    "passes.index": {"GET": roles(*P4_READERS)},
    "passes.print_view": {"GET": roles(*P4_READERS)},
    "passes.detail": {"GET": roles(*P4_READERS)},
    "passes.reveal": {"POST": roles("front_clerk", "cashier")},
    "passes.rented": {"GET": roles(*P4_READERS)},
    "passes.deposits": {"GET": roles(*P4_READERS)},
    "passes.export_registry": {"GET": roles(*P4_READERS)},
    "passes.export_rented": {"GET": roles(*P4_READERS)},
    "passes.export_deposits": {"GET": roles(*P4_READERS)},
    # --- audit (auditors only) ---------------------------------------------------------------
    "audit.search": {"GET": roles("auditor")},
    "audit.chain": {"GET": roles("auditor")},
    "audit.export_csv": {"GET": roles("auditor")},
    "audit.export_xlsx": {"GET": roles("auditor")},
    "audit.timeline": {"GET": roles("auditor")},
    "audit.approval_record": {"GET": roles("auditor")},
    # The one auditor write: reveal personal data with a reason (records only an audit event).
    "audit.reveal": {"POST": roles("auditor")},
    # --- models editor (process owners only, the blueprint's before_request) -----------------
    "models.index": {"GET": roles("process_owner")},
    "models.upload": {"POST": roles("process_owner", ok=302)},
    "models.open_draft": {"POST": roles("process_owner", ok=302)},
    "models.version": {"GET": roles("process_owner")},
    "models.version_diagram": {"GET": roles("process_owner")},
    "models.version_file": {"GET": roles("process_owner")},
    "models.migrate_preview": {"GET": roles("process_owner")},
    # An empty form names no target version: 400.
    "models.migrate": {"POST": roles("process_owner", ok=400)},
    "models.draft": {"GET": roles("process_owner", ok=404)},
    "models.draft_file": {"GET": roles("process_owner", ok=404)},
    "models.draft_problems": {"GET": roles("process_owner", ok=404)},
    "models.modeler": {"GET": roles("process_owner", ok=404)},
    "models.dmn_editor": {"GET": roles("process_owner", ok=404)},
    "models.form_editor": {"GET": roles("process_owner", ok=404)},
    "models.form_preview": {"POST": roles("process_owner", ok=404)},
    # The JSON body is checked before the draft is looked up: an empty post is 400.
    "models.save_draft_file": {"POST": roles("process_owner", ok=400)},
    "models.test_run": {
        "GET": roles("process_owner", ok=404),
        "POST": roles("process_owner", ok=404),
    },
    "models.deploy": {"POST": roles("process_owner", ok=404)},
    "models.discard": {"POST": roles("process_owner", ok=404)},
    # --- administration ----------------------------------------------------------------------
    "calendar.index": {"GET": roles("admin")},
    "calendar.save_day": {"POST": roles("admin", ok=302)},
    "calendar.delete_day": {"POST": roles("admin", ok=302)},
    "calendar.import_file": {"POST": roles("admin", ok=302)},
}
