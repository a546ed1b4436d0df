"""The LTI 1.3 tool: platform registrations, registration invites, the tool key, launch state,
placements and awards (issue 17, LTI part).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('lti_state',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('expires_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_lti_state'))
    )
    with op.batch_alter_table('lti_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_state_expires_at'), ['expires_at'], unique=False)

    op.create_table('lti_tool_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('public_pem', sa.Text(), nullable=False),
    sa.Column('sealed_private_pem', sa.Text(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_tool_key')),
    sa.UniqueConstraint('kid', name=op.f('uq_lti_tool_key_kid'))
    )
    op.create_table('lti_platform',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=255), nullable=False),
    sa.Column('deployment_ids', sa.Text(), nullable=False),
    sa.Column('auth_login_url', sa.String(length=2048), nullable=False),
    sa.Column('auth_token_url', sa.String(length=2048), nullable=False),
    sa.Column('key_set_url', sa.String(length=2048), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_lti_platform_institution_id_institution')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platform')),
    sa.UniqueConstraint('issuer', 'client_id', name=op.f('uq_lti_platform_issuer_client_id'))
    )
    with op.batch_alter_table('lti_platform', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_platform_institution_id'), ['institution_id'], unique=False)

    op.create_table('lti_placement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('badge_class_id', sa.Integer(), nullable=False),
    sa.Column('line_item_url', sa.String(length=2048), nullable=True),
    sa.Column('threshold', sa.Double(), nullable=True),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.Column('polled_at', UTC_DATETIME, nullable=True),
    sa.ForeignKeyConstraint(['badge_class_id'], ['badge_class.id'], name=op.f('fk_lti_placement_badge_class_id_badge_class')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_placement_platform_id_lti_platform')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_placement'))
    )
    with op.batch_alter_table('lti_placement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_placement_platform_id'), ['platform_id'], unique=False)

    op.create_table('lti_registration_invite',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.Column('expires_at', UTC_DATETIME, nullable=False),
    sa.Column('used_at', UTC_DATETIME, nullable=True),
    sa.Column('platform_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_lti_registration_invite_institution_id_institution')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_registration_invite_platform_id_lti_platform')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_registration_invite')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_lti_registration_invite_token_hash'))
    )
    with op.batch_alter_table('lti_registration_invite', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_registration_invite_institution_id'), ['institution_id'], unique=False)

    op.create_table('lti_award',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=255), nullable=False),
    sa.Column('context_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('badge_class_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.ForeignKeyConstraint(['badge_class_id'], ['badge_class.id'], name=op.f('fk_lti_award_badge_class_id_badge_class')),
    sa.ForeignKeyConstraint(['job_id'], ['bulk_job.id'], name=op.f('fk_lti_award_job_id_bulk_job')),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platform.id'], name=op.f('fk_lti_award_platform_id_lti_platform')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_award')),
    sa.UniqueConstraint('platform_id', 'deployment_id', 'context_id', 'user_id', 'badge_class_id', name='uq_lti_award_once')
    )
    with op.batch_alter_table('lti_award', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_award_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lti_award_platform_id'), ['platform_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lti_award', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_award_platform_id'))
        batch_op.drop_index(batch_op.f('ix_lti_award_job_id'))

    op.drop_table('lti_award')
    with op.batch_alter_table('lti_registration_invite', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_registration_invite_institution_id'))

    op.drop_table('lti_registration_invite')
    with op.batch_alter_table('lti_placement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_placement_platform_id'))

    op.drop_table('lti_placement')
    with op.batch_alter_table('lti_platform', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_platform_institution_id'))

    op.drop_table('lti_platform')
    op.drop_table('lti_tool_key')
    with op.batch_alter_table('lti_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_state_expires_at'))

    op.drop_table('lti_state')
