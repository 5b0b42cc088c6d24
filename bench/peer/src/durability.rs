//! The durability settings compared, each the same promise on both sides.
//!
//! - `relaxed`: an acknowledged command may be lost if the machine fails
//!   (JetStream's timer fsync / PostgreSQL `synchronous_commit = off`;
//!   JetStream's window is longer).
//! - `durable`: an acknowledged command is on the disk of the one machine
//!   (JetStream `sync_interval: always` / `synchronous_commit = on`).
//! - `replicated`: an acknowledged command survives the loss of any one
//!   server, the way each system is run for that in production: a JetStream
//!   stream of three replicas (acknowledged once two of the three servers
//!   have stored it; timer fsync) / PostgreSQL with one synchronous
//!   streaming standby and `synchronous_commit = remote_write`
//!   (acknowledged once the standby has written it; PostgreSQL also
//!   flushes its own WAL first, which it cannot skip safely). On this
//!   machine every server shares the same two cores and disk, so it shows
//!   the two replication paths side by side, not what separate machines
//!   would reach.

/// One durability setting.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Durability {
    Relaxed,
    Durable,
    Replicated,
}

impl Durability {
    pub fn name(self) -> &'static str {
        match self {
            Durability::Relaxed => "relaxed",
            Durability::Durable => "durable",
            Durability::Replicated => "replicated",
        }
    }

    /// nats-server's config (JetStream and its store dir come from
    /// testkit's command line). The server's default limits stay: a stream
    /// takes at most 1,000 consumers, and the ledger's reads delete theirs
    /// when done (before they did, the command path's lingering consumers
    /// reached that limit within seconds and the bench had to lift it).
    /// `replicated` runs on testkit's three-node cluster, whose config is
    /// its own (the timer fsync).
    pub fn nats_config(self) -> &'static str {
        match self {
            Durability::Durable => "jetstream {\n  sync_interval: always\n}\n",
            // No sync_interval: the file store fsyncs on its timer (2 min).
            Durability::Relaxed | Durability::Replicated => "jetstream {\n}\n",
        }
    }

    /// The log stream's replicas.
    pub fn replicas(self) -> usize {
        match self {
            Durability::Replicated => 3,
            Durability::Relaxed | Durability::Durable => 1,
        }
    }

    /// PostgreSQL's `synchronous_commit` for the peer and pgbench.
    pub fn synchronous_commit(self) -> &'static str {
        match self {
            Durability::Relaxed => "off",
            Durability::Durable => "on",
            Durability::Replicated => "remote_write",
        }
    }

    /// Whether PostgreSQL runs with a synchronous standby.
    pub fn standby(self) -> bool {
        self == Durability::Replicated
    }
}
