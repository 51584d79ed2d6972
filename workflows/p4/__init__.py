"""P4 — resident, tenant and temporary passes (住户证/租户证/临时出入证办理, seed 002 第7篇 5)."""

PROCESS_ID = "p4_pass_issuance"
