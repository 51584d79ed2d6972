"""P2 — meeting reception (物业会议接待, seed 002 第2篇)."""

PROCESS_ID = "p2_meeting_reception"

#: The signal the attendant sends for an ad-hoc material request during the meeting.
MATERIAL_SIGNAL = "p2_material_request"
