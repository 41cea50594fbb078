"""console: agents, sessions, notes, canned replies, surveys, audit log

Revision ID: 0003_console
Revises: 0002_gateway
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_console"
down_revision = "0002_gateway"
branch_labels = None
depends_on = None

# (language, title, text): greetings and common answers staff insert with one click.
CANNED_REPLIES = [
    (
        "id",
        "Salam",
        "Selamat datang di layanan Pemerintah Kota Padang. Saya petugas yang akan membantu Anda. Ada yang bisa saya bantu?",
    ),
    ("id", "Mohon tunggu", "Mohon ditunggu sebentar, saya periksa dulu."),
    (
        "id",
        "Minta nomor tiket",
        "Boleh kami minta nomor tiket pengaduan Anda (contoh: ADU-2026-000123)?",
    ),
    (
        "id",
        "Layanan gratis",
        "Pengurusan dokumen kependudukan tidak dipungut biaya. Jika ada yang meminta bayaran, silakan laporkan kepada kami.",
    ),
    (
        "id",
        "Penutup",
        "Terima kasih sudah menghubungi layanan Kota Padang. Semoga membantu.",
    ),
    (
        "min",
        "Salam",
        "Salamaik datang di layanan Pamarintah Kota Padang. Ambo petugas nan ka mambantu Sanak. Apo nan bisa ambo bantu?",
    ),
    ("min", "Mohon tunggu", "Tunggu sabanta yo, ambo pareso dulu."),
    (
        "min",
        "Minta nomor tiket",
        "Buliah kami mintak nomor tiket pangaduan Sanak (contoh: ADU-2026-000123)?",
    ),
    (
        "min",
        "Layanan gratis",
        "Pangurusan dokumen kependudukan indak dipunguik biaya. Kok ado nan mamintak pitih, laporan ka kami.",
    ),
    (
        "min",
        "Penutup",
        "Tarimo kasih alah mangontak layanan Kota Padang. Samoga mambantu.",
    ),
]


def upgrade() -> None:
    op.create_table(
        "console_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('agent', 'supervisor')", name=op.f("ck_console_agents_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_agents")),
        sa.UniqueConstraint("username", name=op.f("uq_console_agents_username")),
    )
    op.create_table(
        "console_canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "language IN ('id', 'min')", name=op.f("ck_console_canned_replies_language")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_canned_replies")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["console_agents.id"],
            name=op.f("fk_console_sessions_agent_id_console_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        op.f("ix_console_sessions_agent_id"), "console_sessions", ["agent_id"]
    )
    op.create_table(
        "console_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["console_agents.id"],
            name=op.f("fk_console_notes_agent_id_console_agents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_notes")),
    )
    op.create_index(
        op.f("ix_console_notes_conversation_id"), "console_notes", ["conversation_id"]
    )
    op.create_table(
        "console_surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=3), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "score IS NULL OR (score BETWEEN 1 AND 5)",
            name=op.f("ck_console_surveys_score"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["console_agents.id"],
            name=op.f("fk_console_surveys_agent_id_console_agents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_surveys")),
    )
    op.create_index(
        "ix_console_surveys_conversation_asked",
        "console_surveys",
        ["conversation_id", "asked_at"],
    )
    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["console_agents.id"],
            name=op.f("fk_console_audit_agent_id_console_agents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit")),
    )
    op.create_index("ix_console_audit_action_at", "console_audit", ["action", "at"])
    op.create_index("ix_console_audit_subject", "console_audit", ["subject"])

    canned = sa.table(
        "console_canned_replies",
        sa.column("language", sa.String),
        sa.column("title", sa.String),
        sa.column("text", sa.Text),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        canned,
        [
            {"language": lang, "title": title, "text": text, "position": i}
            for i, (lang, title, text) in enumerate(CANNED_REPLIES)
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_console_audit_subject", table_name="console_audit")
    op.drop_index("ix_console_audit_action_at", table_name="console_audit")
    op.drop_table("console_audit")
    op.drop_index("ix_console_surveys_conversation_asked", table_name="console_surveys")
    op.drop_table("console_surveys")
    op.drop_index(op.f("ix_console_notes_conversation_id"), table_name="console_notes")
    op.drop_table("console_notes")
    op.drop_index(op.f("ix_console_sessions_agent_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_canned_replies")
    op.drop_table("console_agents")
