"""jobs: run records of periodic and manual jobs (Huey keeps its own queue)

``job_run``: one row per run of a background job (its retries included), unique ``task_id``;
``lock_key`` unique so one consumer claims a periodic tick. ``job_lock``: the per-name lock of a
running periodic job, with an expiry. See portal/jobs/models.py.

Revision ID: 0010_jobs
Revises: 0009_extraction_states
Create Date: 2026-12-07 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010_jobs'
down_revision = '0009_extraction_states'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('task_id', sa.String(length=64), nullable=False),
        sa.Column('plugin', sa.String(length=60), nullable=False),
        sa.Column('trigger', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('args_summary', sa.String(length=300), nullable=True),
        sa.Column('kwargs', sa.JSON(), nullable=True),
        sa.Column('lock_key', sa.String(length=160), nullable=True),
        sa.Column('enqueued_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('host', sa.String(length=100), nullable=True),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('retried_as', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run')),
        sa.UniqueConstraint('task_id', name=op.f('uq_job_run_task_id')),
        sa.UniqueConstraint('lock_key', name=op.f('uq_job_run_lock_key')),
    )
    op.create_index('ix_job_run_status_id', 'job_run', ['status', 'id'], unique=False)
    op.create_index('ix_job_run_name_id', 'job_run', ['name', 'id'], unique=False)
    op.create_table(
        'job_lock',
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('owner', sa.String(length=120), nullable=False),
        sa.Column('acquired_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_lock')),
    )


def downgrade():
    op.drop_table('job_lock')
    op.drop_index('ix_job_run_name_id', table_name='job_run')
    op.drop_index('ix_job_run_status_id', table_name='job_run')
    op.drop_table('job_run')
