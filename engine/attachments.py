"""Files attached to an instance (plans, minutes, photos), stored outside the database.

The bytes go to a folder (`JIEDAI_ATTACHMENTS_DIR`, the web app's `instance/attachments` by
default) under their SHA-256, so a name typed by a user is never part of a path and the same
file uploaded twice is stored once. The type is decided by sniffing the content, never by the
name or the browser's Content-Type. The row, the file and the `attachment:upload` audit event
belong to the caller's transaction; a rollback can leave an unreferenced file behind, which is
harmless because names are content hashes (the next upload of the same bytes reuses it)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit_chain
from .errors import Forbidden, JiedaiError, NotFound
from .inbox import can_work_on
from .models import (
    Base,
    HumanTask,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
    User,
    utcnow,
)
from .visibility import OVERSEER_ROLES, can_view_instance

MAX_BYTES = 10 * 1024 * 1024

#: Sniffed type → (MIME type, label). Office files are ZIP packages; which one is told by the
#: part names inside, read from the central directory without extracting anything.
ALLOWED_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "PDF"),
    "jpeg": ("image/jpeg", "JPEG"),
    "png": ("image/png", "PNG"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word (.docx)",
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel (.xlsx)"),
}
_EXTENSIONS = {"pdf": ".pdf", "jpeg": ".jpg", "png": ".png", "docx": ".docx", "xlsx": ".xlsx"}

#: What an attachment is, as the archive step names it.
KINDS: dict[str, tuple[str, str]] = {
    "plan": ("接待计划", "Plan"),
    "minutes": ("会议纪要", "Minutes"),
    "photo": ("照片", "Photo"),
    "other": ("其他", "Other"),
}


class Attachment(Base):
    """Metadata of one uploaded file; the bytes live in the storage folder under `sha256`."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    file_type: Mapped[str] = mapped_column(String(10))  # a key of ALLOWED_TYPES
    kind: Mapped[str] = mapped_column(String(20))  # a key of KINDS
    filename: Mapped[str] = mapped_column(String(200))  # shown and offered on download only
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def mimetype(self) -> str:
        return ALLOWED_TYPES[self.file_type][0]


# --- named failures -------------------------------------------------------------------------


class AttachmentTooLarge(JiedaiError):
    def __init__(self, limit: int = MAX_BYTES):
        mb = limit // (1024 * 1024)
        super().__init__(f"附件不能超过 {mb} MB", f"An attachment may not exceed {mb} MB")


class AttachmentTypeRefused(JiedaiError):
    message_zh = "只能上传 PDF、JPEG、PNG、Word (.docx) 或 Excel (.xlsx) 文件（按文件内容判断）"
    message_en = "Only PDF, JPEG, PNG, Word (.docx) or Excel (.xlsx) files (judged by content)"


class AttachmentEmpty(JiedaiError):
    message_zh = "请选择要上传的文件"
    message_en = "Choose a file to upload"


# --- content ---------------------------------------------------------------------------------


def sniff(content: bytes) -> str | None:
    """The type of `content` by its magic bytes (a key of ALLOWED_TYPES), or None."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"PK\x03\x04"):
        return _office_type(content)
    return None


def _office_type(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return None


def clean_filename(name: str, file_type: str) -> str:
    """A display name: no folders, no control characters, at most 120 characters, with the
    extension of the sniffed type (a renamed .exe stays refused; a .jpg named .png is fixed)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return (stem[:100] or "attachment") + _EXTENSIONS[file_type]


# --- permissions -----------------------------------------------------------------------------


def may_upload(session: Session, user: User, instance: ProcessInstance) -> bool:
    """While the instance runs: the person who started it, anyone with an open task of it, or a
    process owner. Readers who only look (auditors) cannot add files."""
    if instance.status != InstanceStatus.RUNNING or not user.active:
        return False
    if instance.started_by_id == user.id or user.has_role("process_owner"):
        return True
    open_tasks = session.scalars(
        select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.OPEN
        )
    )
    return any(can_work_on(user, task) for task in open_tasks)


def may_download(session: Session, user: User, instance: ProcessInstance) -> bool:
    return user.active and (
        user.has_role(*OVERSEER_ROLES) or can_view_instance(session, user, instance)
    )


# --- actions ---------------------------------------------------------------------------------


def save_attachment(
    session: Session,
    *,
    storage_dir: Path,
    instance: ProcessInstance,
    user: User,
    filename: str,
    content: bytes,
    kind: str = "other",
    max_bytes: int = MAX_BYTES,
) -> Attachment:
    """Check and store one upload; raises Forbidden, AttachmentEmpty, AttachmentTooLarge or
    AttachmentTypeRefused (nothing stored then). Does not commit."""
    if not may_upload(session, user, instance):
        raise Forbidden("您不能给该流程添加附件", "You may not add attachments to this process")
    if not content:
        raise AttachmentEmpty()
    if len(content) > max_bytes:
        raise AttachmentTooLarge(max_bytes)
    file_type = sniff(content)
    if file_type is None:
        raise AttachmentTypeRefused()
    digest = hashlib.sha256(content).hexdigest()
    _store(Path(storage_dir), digest, content)
    row = Attachment(
        instance_id=instance.id,
        sha256=digest,
        size=len(content),
        file_type=file_type,
        kind=kind if kind in KINDS else "other",
        filename=clean_filename(filename or "", file_type),
        uploaded_by=user.username,
    )
    session.add(row)
    session.flush()  # why: the audit event names the new row's id
    audit_chain.record(
        session,
        "attachment:upload",
        actor=user.username,
        instance_id=instance.id,
        version_id=instance.version_id,
        payload={
            "attachment": row.id,
            "sha256": digest,
            "size": row.size,
            "type": file_type,
            "kind": row.kind,
            "filename": row.filename,
        },
    )
    return row


def path_of(storage_dir: Path, digest: str) -> Path:
    """Where the bytes of `digest` live: `<dir>/<first two hex digits>/<hash>`."""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("not a SHA-256 hex digest")
    return Path(storage_dir) / digest[:2] / digest


def _store(storage_dir: Path, digest: str, content: bytes) -> None:
    target = path_of(storage_dir, digest)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file, two writers of the same bytes agree.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def attachments_of(session: Session, instance_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment)
            .where(Attachment.instance_id == instance_id)
            .order_by(Attachment.uploaded_at, Attachment.id)
        )
    )


def open_attachment(
    session: Session, user: User, attachment_id: int, storage_dir: Path
) -> tuple[Attachment, Path]:
    """The attachment and the path of its bytes, for someone who may view its instance."""
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("附件不存在", "Attachment not found")
    instance = session.get(ProcessInstance, row.instance_id)
    if instance is None or not may_download(session, user, instance):
        raise Forbidden("您不能查看该附件", "You may not see this attachment")
    path = path_of(storage_dir, row.sha256)
    if not path.is_file():
        raise NotFound("附件文件已丢失，请联系管理员", "The attachment's file is missing")
    return row, path
