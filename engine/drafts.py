"""Draft bundles: what a process owner edits in the browser before deploying it.

A draft is one row per procedure being edited: its files (`<name>.bpmn`, `<name>.dmn`,
`<name>.dmn.tests.json`, `forms/<name>.json`) copied from the latest version or uploaded, and
a revision counter. Saving names the revision the editor started from; if the draft changed
in between, the save is refused (nothing is lost: the other person's save stands and this one
can be repeated on top of it). Deploying a draft goes through the same `check_bundle` as the
CLI, so nothing that fails a check is ever stored as a version."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .bundles import Bundle
from .deploy import DeployResult, check_bundle, deploy_bundle
from .errors import Conflict, DeployRefused, JiedaiError, NotFound, Problem
from .models import Base, ProcessModel, ProcessVersion, User, utcnow
from .xml_safety import MAX_XML_BYTES

MAX_FILE_BYTES = MAX_XML_BYTES
MAX_FILES = 200
# What a bundle may hold: one diagram, tables, their test cases and forms; no paths.
_FILE_NAME = re.compile(
    r"(?:[A-Za-z0-9_.\-]+\.(?:bpmn|dmn|dmn\.tests\.json)|forms/[A-Za-z0-9_.\-]+\.json)"
)


class ModelDraft(Base):
    """A procedure's files being edited; at most one draft per process id."""

    __tablename__ = "model_draft"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100), unique=True)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_version.id"))
    files: Mapped[dict] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    base_version: Mapped[ProcessVersion | None] = relationship()

    @property
    def bundle(self) -> Bundle:
        return Bundle(dict(self.files))

    @property
    def bpmn_name(self) -> str | None:
        names = self.bundle.names(".bpmn")
        return names[0] if len(names) == 1 else None


class DraftChanged(Conflict):
    message_zh = "草稿已被他人修改（您打开之后又保存过），您的修改未保存；请重新打开后再改"
    message_en = (
        "The draft was changed by someone else since you opened it; your change was not "
        "saved. Reopen it and make your change again"
    )


class BadDraftFile(JiedaiError):
    """An upload or save that cannot be part of a bundle (name, size, kind)."""


def get_draft(session: Session, draft_id: int) -> ModelDraft:
    draft = session.get(ModelDraft, draft_id, populate_existing=True)
    if draft is None:
        raise NotFound(f"草稿 {draft_id} 不存在", f"Draft {draft_id} not found")
    return draft


def draft_for(session: Session, process_id: str) -> ModelDraft | None:
    return session.scalar(select(ModelDraft).where(ModelDraft.process_id == process_id))


def open_draft(session: Session, process_id: str, user: User) -> ModelDraft:
    """The process's draft, made from its latest version's files when there is none."""
    draft = draft_for(session, process_id)
    if draft is not None:
        return draft
    version = session.scalar(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.process_id == process_id)
        .order_by(ProcessVersion.number.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(f"没有已部署的流程“{process_id}”", f"No deployed process '{process_id}'")
    draft = ModelDraft(
        process_id=process_id,
        base_version=version,
        files=dict(version.files),
        created_by=user.username,
        updated_by=user.username,
    )
    session.add(draft)
    session.flush()  # why: the caller redirects to the new draft's id
    return draft


def draft_from_upload(session: Session, files: dict[str, str], user: User) -> ModelDraft:
    """A draft from uploaded files (one `.bpmn` plus tables and forms); an existing draft of
    the same process is replaced only if the caller discarded it first."""
    for name, text in files.items():
        check_file(name, text)
    bundle = Bundle(files)
    if len(bundle.names(".bpmn")) != 1:
        raise BadDraftFile(
            "上传的文件中须恰好有一个 .bpmn 文件", "The upload must hold exactly one .bpmn file"
        )
    process_id = _process_id(bundle)
    if draft_for(session, process_id) is not None:
        raise DraftChanged(
            f"流程“{process_id}”已有草稿，请先在草稿中修改或放弃它",
            f"Process '{process_id}' already has a draft: edit or discard it first",
        )
    draft = ModelDraft(
        process_id=process_id,
        files=dict(files),
        created_by=user.username,
        updated_by=user.username,
    )
    latest = session.scalar(
        select(ProcessVersion)
        .join(ProcessModel)
        .where(ProcessModel.process_id == process_id)
        .order_by(ProcessVersion.number.desc())
        .limit(1)
    )
    draft.base_version = latest
    session.add(draft)
    session.flush()  # why: the caller redirects to the new draft's id
    return draft


def check_file(name: str, text: str) -> None:
    """Refuse a file name outside the bundle's layout, an oversized file or the wrong kind."""
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        raise BadDraftFile(
            f"文件名“{name}”不允许（只接受 .bpmn、.dmn、.dmn.tests.json 和 forms/*.json）",
            f"File name '{name}' is not allowed (only .bpmn, .dmn, .dmn.tests.json and "
            "forms/*.json)",
        )
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise BadDraftFile(
            f"文件“{name}”超过 {MAX_FILE_BYTES // 1024 // 1024} MB",
            f"File '{name}' is larger than {MAX_FILE_BYTES // 1024 // 1024} MB",
        )
    head = text.lstrip()[:400]
    if name.endswith((".bpmn", ".dmn")) and not head.startswith("<"):
        raise BadDraftFile(
            f"文件“{name}”不是 XML（BPMN/DMN）", f"File '{name}' is not XML (BPMN/DMN)"
        )
    if name.endswith(".bpmn") and "BPMN/20100524/MODEL" not in text[:4000]:
        raise BadDraftFile(f"文件“{name}”不是 BPMN 图", f"File '{name}' is not a BPMN diagram")
    if name.endswith(".dmn") and "/DMN/" not in text[:4000] and "dmn.xsd" not in text[:4000]:
        raise BadDraftFile(f"文件“{name}”不是 DMN 决策表", f"File '{name}' is not a DMN table")


def save_file(
    session: Session, draft_id: int, name: str, text: str, seen_revision: int, user: User
) -> ModelDraft:
    """Store one file of the draft if it is still at `seen_revision`; else `DraftChanged`."""
    check_file(name, text)
    draft = get_draft(session, draft_id)
    if draft.revision != seen_revision:
        raise DraftChanged()
    if name.endswith(".bpmn") and name != draft.bpmn_name:
        raise BadDraftFile(
            f"草稿的 BPMN 文件是“{draft.bpmn_name}”",
            f"The draft's BPMN file is '{draft.bpmn_name}'",
        )
    files = dict(draft.files)
    files[name] = text
    if len(files) > MAX_FILES:
        raise BadDraftFile("文件太多", "Too many files")
    draft.files = files  # a new dict: JSON columns track assignment, not mutation
    draft.revision += 1
    draft.updated_by = user.username
    draft.updated_at = utcnow()
    return draft


def delete_file(session: Session, draft_id: int, name: str, seen_revision: int, user: User):
    draft = get_draft(session, draft_id)
    if draft.revision != seen_revision:
        raise DraftChanged()
    if name == draft.bpmn_name:
        raise BadDraftFile("不能删除 BPMN 文件", "The BPMN file cannot be removed")
    files = dict(draft.files)
    files.pop(name, None)
    draft.files = files
    draft.revision += 1
    draft.updated_by = user.username
    draft.updated_at = utcnow()
    return draft


def check_draft(draft: ModelDraft) -> list[Problem]:
    """Every problem `check_bundle` finds in the draft; empty when it could be deployed."""
    try:
        check_bundle(draft.bundle)
    except DeployRefused as refused:
        return refused.problems
    return []


def deploy_draft(session: Session, draft_id: int, seen_revision: int, user: User) -> DeployResult:
    """Deploy the draft as the next version and remove it; refused whole if any check fails."""
    draft = get_draft(session, draft_id)
    if draft.revision != seen_revision:
        raise DraftChanged()
    result = deploy_bundle(session, draft.bundle, user)
    session.delete(draft)
    return result


def discard_draft(session: Session, draft_id: int) -> None:
    session.delete(get_draft(session, draft_id))


def _process_id(bundle: Bundle) -> str:
    from .parsing import executable_process
    from .xml_safety import UnsafeXml, parse_xml

    (name,) = bundle.names(".bpmn")
    try:
        process = executable_process(parse_xml(bundle.files[name].encode("utf-8")))
    except (UnsafeXml, ValueError) as exc:  # XMLSyntaxError is a ValueError
        raise DeployRefused([Problem(name, f"无法读取：{exc}", f"Cannot read it: {exc}")]) from exc
    if process is None or not process.get("id"):
        raise DeployRefused(
            [Problem(name, "文件中没有 bpmn:process", "No bpmn:process in the file")]
        )
    return process.get("id")
