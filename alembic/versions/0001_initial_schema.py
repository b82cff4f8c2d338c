"""initial schema

Generated from the models with --autogenerate, then reviewed: every table, its constraints
(named by the MetaData naming convention) and its indexes; identical on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 20:06:27.114554
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=256), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_actor_time'), ['actor', 'time'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_time'), ['time'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('merged_into_id', sa.String(length=26), nullable=True),
    sa.ForeignKeyConstraint(['merged_into_id'], ['customers.id'], name=op.f('fk_customers_merged_into_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_merged_into_id'), ['merged_into_id'], unique=False)

    op.create_table('customer_identities',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('customer_id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('phone', 'email', 'chat_visitor', 'user')", name=op.f('ck_customer_identities_kind')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_identities_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_identities')),
    sa.UniqueConstraint('kind', 'value', name=op.f('uq_customer_identities_kind_value'))
    )
    with op.batch_alter_table('customer_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_identities_customer_id'), ['customer_id'], unique=False)

    op.create_table('interactions',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('customer_id', sa.String(length=26), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('pbx_call_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_interactions_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interactions'))
    )
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interactions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interactions_pbx_call_id'), ['pbx_call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interactions_queue_state'), ['queue', 'state'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=26), nullable=True),
    sa.Column('owner_agent_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=2000), nullable=True),
    sa.CheckConstraint("status IN ('open', 'pending', 'closed')", name=op.f('ck_tickets_status')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_tickets_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_owner_agent_id'), ['owner_agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_status'), ['status'], unique=False)

    op.create_table('interaction_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interaction_id', sa.String(length=26), nullable=True),
    sa.Column('queue', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'], name=op.f('fk_interaction_events_interaction_id_interactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interaction_events'))
    )
    with op.batch_alter_table('interaction_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interaction_events_interaction_id'), ['interaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_interaction_events_queue_time'), ['queue', 'time'], unique=False)
        batch_op.create_index(batch_op.f('ix_interaction_events_time'), ['time'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('interaction_id', sa.String(length=26), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.CheckConstraint("direction IN ('in', 'out')", name=op.f('ck_messages_direction')),
    sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'], name=op.f('fk_messages_interaction_id_interactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_interaction_id_time'), ['interaction_id', 'time'], unique=False)

    op.create_table('ticket_interactions',
    sa.Column('ticket_id', sa.String(length=26), nullable=False),
    sa.Column('interaction_id', sa.String(length=26), nullable=False),
    sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'], name=op.f('fk_ticket_interactions_interaction_id_interactions')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_interactions_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('ticket_id', 'interaction_id', name=op.f('pk_ticket_interactions'))
    )
    with op.batch_alter_table('ticket_interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_interactions_interaction_id'), ['interaction_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ticket_interactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_interactions_interaction_id'))

    op.drop_table('ticket_interactions')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_interaction_id_time'))

    op.drop_table('messages')
    with op.batch_alter_table('interaction_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interaction_events_time'))
        batch_op.drop_index(batch_op.f('ix_interaction_events_queue_time'))
        batch_op.drop_index(batch_op.f('ix_interaction_events_interaction_id'))

    op.drop_table('interaction_events')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_tickets_owner_agent_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_customer_id'))

    op.drop_table('tickets')
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interactions_queue_state'))
        batch_op.drop_index(batch_op.f('ix_interactions_pbx_call_id'))
        batch_op.drop_index(batch_op.f('ix_interactions_customer_id'))

    op.drop_table('interactions')
    with op.batch_alter_table('customer_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_identities_customer_id'))

    op.drop_table('customer_identities')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_merged_into_id'))

    op.drop_table('customers')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_time'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_time'))

    op.drop_table('audit_log')