//! Planning: which issues each lane gets, the work orders, and the dry run that previews them. Uses
//! files, judge, and agents (the worker line a dry run shows).

pub mod dryrun;
pub mod model;
pub mod plan;
pub mod workorder;
