//! Reading `explain`: which plan the server chose for a query, and how much
//! it read to answer it. An index scan (`IXSCAN`) reads only the matching
//! entries; a collection scan (`COLLSCAN`) reads every document.
//!
//! ```no_run
//! # async fn example(db: &lab::mongodb::Database) -> Result<(), lab::analysis::AnalysisError> {
//! use lab::bson::doc;
//! let plan = lab::analysis::plan::explain_find(db, "invoices", doc! { "status": "overdue" }).await?;
//! println!("{plan}"); // FETCH <- IXSCAN status_1_due_date_1, 2186 of 2186 documents read
//! assert!(plan.uses_index("status_1_due_date_1"));
//! # Ok(()) }
//! ```

use std::fmt;

use bson::{Bson, Document, doc};
use mongodb::Database;

use super::AnalysisError;

/// One stage of a winning plan, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStage {
    /// `COLLSCAN`, `IXSCAN`, `FETCH`, `SORT`, `LIMIT`, ...
    pub stage: String,
    /// The index an `IXSCAN` reads.
    pub index: Option<String>,
}

/// The plan the server chose for a query, and what running it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPlan {
    /// The winning plan's stages, outermost first (the last one reads data).
    pub stages: Vec<PlanStage>,
    /// Documents the server read, when the explain ran the query.
    pub docs_examined: Option<u64>,
    /// Index entries the server read, when the explain ran the query.
    pub keys_examined: Option<u64>,
    /// Documents returned, when the explain ran the query.
    pub returned: Option<u64>,
}

impl QueryPlan {
    /// Reads the plan out of an `explain` command's answer. Both the classic
    /// layout (`winningPlan.stage`) and the one of newer `mongod` releases
    /// (`winningPlan.queryPlan.stage`) are understood.
    pub fn from_explain(explain: &Document) -> Result<QueryPlan, AnalysisError> {
        let unreadable = || {
            AnalysisError::invalid(
                "explain",
                "the answer has no queryPlanner.winningPlan; explain a find command",
            )
        };
        let winning = explain
            .get_document("queryPlanner")
            .and_then(|planner| planner.get_document("winningPlan"))
            .map_err(|_| unreadable())?;
        let mut node = winning.get_document("queryPlan").unwrap_or(winning);
        let mut stages = Vec::new();
        loop {
            let stage = node.get_str("stage").map_err(|_| unreadable())?;
            stages.push(PlanStage {
                stage: stage.to_owned(),
                index: node.get_str("indexName").ok().map(str::to_owned),
            });
            let next = node.get_document("inputStage").ok().or_else(|| {
                node.get_array("inputStages")
                    .ok()
                    .and_then(|inputs| inputs.first())
                    .and_then(Bson::as_document)
            });
            match next {
                Some(inner) => node = inner,
                None => break,
            }
        }
        let stats = explain.get_document("executionStats").ok();
        let count = |field: &str| {
            stats
                .and_then(|stats| stats.get(field))
                .and_then(|value| match value {
                    Bson::Int32(n) => u64::try_from(*n).ok(),
                    Bson::Int64(n) => u64::try_from(*n).ok(),
                    Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
                    _ => None,
                })
        };
        Ok(QueryPlan {
            stages,
            docs_examined: count("totalDocsExamined"),
            keys_examined: count("totalKeysExamined"),
            returned: count("nReturned"),
        })
    }

    /// Whether an index scan of `index` answers the query.
    pub fn uses_index(&self, index: &str) -> bool {
        self.stages
            .iter()
            .any(|stage| stage.stage == "IXSCAN" && stage.index.as_deref() == Some(index))
    }

    /// Whether the server read the whole collection.
    pub fn is_collection_scan(&self) -> bool {
        self.stages.iter().any(|stage| stage.stage == "COLLSCAN")
    }
}

impl fmt::Display for QueryPlan {
    /// `FETCH <- IXSCAN customer_id_1, 20 of 20 documents read`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, stage) in self.stages.iter().enumerate() {
            if position > 0 {
                f.write_str(" <- ")?;
            }
            f.write_str(&stage.stage)?;
            if let Some(index) = &stage.index {
                write!(f, " {index}")?;
            }
        }
        if let (Some(returned), Some(read)) = (self.returned, self.docs_examined) {
            write!(f, ", {returned} returned, {read} documents read")?;
        }
        Ok(())
    }
}

/// Runs `explain` on a find of `filter` in `collection`, with execution
/// statistics (the query runs once, its documents are not returned).
pub async fn explain_find(
    database: &Database,
    collection: &str,
    filter: Document,
) -> Result<QueryPlan, AnalysisError> {
    let command = doc! {
        "explain": { "find": collection, "filter": filter },
        "verbosity": "executionStats",
    };
    let answer = database
        .run_command(command)
        .await
        .map_err(|source| AnalysisError::Database {
            report: "explain",
            source,
        })?;
    QueryPlan::from_explain(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_classic_and_the_newer_layouts() {
        let classic = doc! {
            "queryPlanner": { "winningPlan": {
                "stage": "FETCH",
                "inputStage": { "stage": "IXSCAN", "indexName": "customer_id_1" },
            } },
            "executionStats": { "nReturned": 20, "totalDocsExamined": 20, "totalKeysExamined": 20_i64 },
        };
        let plan = QueryPlan::from_explain(&classic).unwrap();
        assert!(plan.uses_index("customer_id_1"));
        assert!(!plan.is_collection_scan());
        assert_eq!(
            plan.to_string(),
            "FETCH <- IXSCAN customer_id_1, 20 returned, 20 documents read"
        );
        assert_eq!(plan.keys_examined, Some(20));

        let newer = doc! {
            "queryPlanner": { "winningPlan": { "queryPlan": { "stage": "COLLSCAN" } } },
        };
        let plan = QueryPlan::from_explain(&newer).unwrap();
        assert!(plan.is_collection_scan());
        assert!(!plan.uses_index("customer_id_1"));
        assert_eq!(plan.to_string(), "COLLSCAN");
    }

    #[test]
    fn an_answer_without_a_plan_is_an_error_not_a_guess() {
        let error = QueryPlan::from_explain(&doc! { "ok": 1 }).unwrap_err();
        assert!(error.to_string().starts_with("explain: the answer has no"));
    }
}
