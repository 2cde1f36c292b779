//! User ID ranges (the reference's `pkg/util/user`).

/// A range of user IDs, each bound optional and inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Range {
    from: Option<i64>,
    to: Option<i64>,
}

/// A list of [`Range`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeList(Vec<Range>);
