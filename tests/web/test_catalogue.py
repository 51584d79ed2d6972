"""The zh_CN catalogue is complete: every message id the code uses has a translation."""

from web.catalogue import extracted_ids, read_catalogue, untranslated


def test_every_message_is_translated():
    ids = extracted_ids()
    assert "Inbox" in ids and "Task completed: %(name)s" in ids  # extraction really ran
    missing = untranslated(read_catalogue(), ids)
    assert not missing, f"untranslated (add them, then run python -m web.catalogue): {missing}"
