"""photo signals: the image matcher's findings per photo and matching version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('photo_signals',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('matching_version', sa.String(length=40), nullable=False),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', 'matching_version')
    )


def downgrade() -> None:
    op.drop_table('photo_signals')
