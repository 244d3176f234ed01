//! Input a pure rule refuses, field by field. The rules answer in `Invalid`; `error.rs` turns
//! it into the API's `validation_failed` answer at its `From` impl, so the rules know nothing
//! of the envelope.

use serde::Serialize;
use utoipa::ToSchema;

/// A field-level validation problem, listed in `details.fields[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { field: field.into(), problem: problem.into() }
    }
}

/// One or more fields at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", problems.iter().map(|p| format!("`{}` {}", p.field, p.problem)).collect::<Vec<_>>().join("; "))]
pub struct Invalid {
    pub problems: Vec<FieldProblem>,
}

impl Invalid {
    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { problems: vec![FieldProblem::new(field, problem)] }
    }

    /// `Ok` when no problem was found, else all of them at once.
    pub fn unless_any(problems: Vec<FieldProblem>) -> Result<(), Self> {
        if problems.is_empty() { Ok(()) } else { Err(Self { problems }) }
    }
}
