//! What collecting and judging a lane produced: [`Collected`], with a [`Judgement`] per issue
//! (made by `collect.rs`, read by the attempts, the coordinator and the finish).

use crate::run::state::FailedCheck;

/// One issue's judgement.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub id: String,
    pub approved: bool,
    pub reason: String,
    pub verdict_yaml: Option<String>,
    /// The checks that failed, with the tail of their output (none when approved).
    pub failing: Vec<FailedCheck>,
    /// The evidence of a rejected issue (JSON, every check's output): kept in the lane's run
    /// folder, since only a resolved issue's evidence is committed.
    pub evidence_json: Option<String>,
}

/// What collecting a lane produced.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub lane: String,
    pub committed_leftovers: bool,
    pub tip: Option<String>,
    pub judgements: Vec<Judgement>,
    pub error: Option<String>,
    /// Edits the guard dropped from the lane's commit (see [`crate::judge::guard`]), one line each.
    pub reverts: Vec<String>,
    /// Why the lane is refused as a whole (neither judged nor integrated).
    pub refused: Vec<String>,
    /// Files the lane changed that belong to none of its issues (their affected paths and the
    /// files their checks name).
    pub other_changes: Vec<String>,
    /// What the lane's warnings say of its collection (git files the worker changed).
    pub warnings: Vec<String>,
    /// Repositories the worker made inside its worktree, left out of the lane.
    pub embedded: Vec<String>,
    /// Checks that changed git's files in the worktree (its `.git` link, what git executes),
    /// put back by git-lanes: `` check `…` of E-01: why ``.
    pub tampering: Vec<String>,
}
