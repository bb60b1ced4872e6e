//! The status words of a run ([`RunStatus`]) and of a lane ([`LaneStatus`]) as typed values:
//! each variant is one word in `state.yaml`, `run --json` and the reports
//! (docs/formats.md#run-state-and-report), and a word this version does not know (written by a
//! newer version or another tool) is kept as it is.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One enum per status field: the known words, an empty word (`Unset`, what a state not filled
/// in yet holds) and any other word kept verbatim.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// No word yet (an empty string on disk).
            #[default]
            Unset,
            /// A word this version does not know, kept as it was read.
            Other(String),
        }

        impl $name {
            /// Every known variant, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The word on disk and in JSON.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Unset => "",
                    $name::Other(w) => w,
                }
            }

            /// The status a word names (an unknown word is kept as [`Self::Other`]).
            pub fn parse(word: &str) -> $name {
                match word {
                    $($word => $name::$variant,)+
                    "" => $name::Unset,
                    other => $name::Other(other.to_string()),
                }
            }

            /// The word for people: `needs_attention` → `needs attention`.
            pub fn words(&self) -> String {
                self.as_str().replace('_', " ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                Ok($name::parse(&String::deserialize(d)?))
            }
        }
    };
}

status_enum! {
    /// A run's `status:` in `state.yaml`.
    RunStatus {
        /// Before any run (what `reset` writes).
        Idle = "idle",
        Running = "running",
        /// Stopped by Ctrl-C or a crash; `--resume` continues it.
        Interrupted = "interrupted",
        Complete = "complete",
        /// Finished with something for a human (a lane that failed, a conflict, …).
        NeedsAttention = "needs_attention",
    }
}

status_enum! {
    /// A lane's `status:` (in `state.yaml` the seed's `completed` stands for [`LaneStatus::Done`],
    /// see `state.rs`; `run --json` says `done`).
    LaneStatus {
        /// Planned, or set up and waiting for a slot.
        Pending = "pending",
        Running = "running",
        /// The worker wrote `.done` and ended.
        Done = "done",
        Failed = "failed",
        TimedOut = "timed_out",
        /// Stopped by Ctrl-C; `--resume` restarts it.
        Interrupted = "interrupted",
        Skipped = "skipped",
        /// Written by earlier versions once a lane was collected: read (such a lane is not
        /// collected again), never written.
        Collected = "collected",
    }
}

impl RunStatus {
    /// Whether the run finished (`complete` or `needs_attention`).
    pub fn is_finished(&self) -> bool {
        matches!(self, RunStatus::Complete | RunStatus::NeedsAttention)
    }
}

impl LaneStatus {
    /// Whether the lane's worker may still be at work (`pending` or `running`).
    pub fn is_unended(&self) -> bool {
        matches!(self, LaneStatus::Pending | LaneStatus::Running)
    }
}
