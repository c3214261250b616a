//! Job results in MongoDB, tagged with the job's id and the fencing token of
//! the run that computed them. A job may run more than once (at-least-once
//! delivery), so several runs may save a result; the one shown is the one
//! whose token completed the job: exactly one result per job.

use bson::{DateTime, Document, doc};
use mongodb::{Collection, Database};
use serde_json::Value;

use super::queue::{Claim, JobRecord, JobState};

/// The collection of results.
pub const RESULTS: &str = "job_results";

fn results(database: &Database) -> Collection<Document> {
    database.collection(RESULTS)
}

/// Creates the index every lookup of a result uses (job id, then token),
/// unique: one result per run. Without it each save and read scans every
/// result ever kept.
pub async fn ensure_indexes(database: &Database) -> mongodb::error::Result<()> {
    let options = mongodb::options::IndexOptions::builder()
        .unique(true)
        .name("job_id_token".to_owned())
        .build();
    results(database)
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! { "job_id": 1, "token": 1 })
                .options(options)
                .build(),
        )
        .await?;
    Ok(())
}

/// Saves the result of `claim`'s run (before completing the job: a run whose
/// completion is then refused leaves a result nobody is shown).
pub async fn save(
    database: &Database,
    claim: &Claim,
    result: &Value,
) -> mongodb::error::Result<()> {
    results(database)
        .update_one(run_of(claim), saved(result))
        .upsert(true)
        .await?;
    Ok(())
}

/// Marks the result of `claim`'s run as the job's, once the job is
/// completed: after the job itself has expired from Redis, this is how the
/// result is still found ([`kept`]).
pub async fn mark_completed(database: &Database, claim: &Claim) -> mongodb::error::Result<()> {
    results(database)
        .update_one(run_of(claim), COMPLETED.clone())
        .await?;
    Ok(())
}

/// [`save`] for several runs in one command to the server (one `update`
/// command with a statement per run, each an upsert as in [`save`]).
pub async fn save_many(
    database: &Database,
    runs: &[(&Claim, &Value)],
) -> mongodb::error::Result<()> {
    let statements = runs
        .iter()
        .map(|(claim, result)| statement(claim, saved(result), true));
    update_all(database, statements).await
}

/// [`mark_completed`] for several runs in one command to the server.
pub async fn mark_completed_many(
    database: &Database,
    claims: &[&Claim],
) -> mongodb::error::Result<()> {
    let statements = claims
        .iter()
        .map(|claim| statement(claim, COMPLETED.clone(), false));
    update_all(database, statements).await
}

/// The stored result of one run: the job's id and the run's token.
fn run_of(claim: &Claim) -> Document {
    doc! { "job_id": &claim.id, "token": claim.token as i64 }
}

/// The update that stores `result`.
fn saved(result: &Value) -> Document {
    let stored = bson::serialize_to_bson(result).unwrap_or(bson::Bson::Null);
    doc! { "$set": { "result": stored, "saved_at": DateTime::now() } }
}

/// The update that marks a run's result as the job's.
static COMPLETED: std::sync::LazyLock<Document> =
    std::sync::LazyLock::new(|| doc! { "$set": { "completed": true } });

/// One statement of an `update` command: `update` on `claim`'s run.
fn statement(claim: &Claim, update: Document, upsert: bool) -> Document {
    doc! { "q": run_of(claim), "u": update, "upsert": upsert }
}

/// Runs `statements` as one `update` command, unordered (one run's failure
/// does not stop the others'), and fails if any of them failed: the server
/// answers `ok: 1` with a list of `writeErrors` then, which the typed
/// `update_one` would have turned into an error.
async fn update_all(
    database: &Database,
    statements: impl Iterator<Item = Document>,
) -> mongodb::error::Result<()> {
    let statements: Vec<Document> = statements.collect();
    if statements.is_empty() {
        return Ok(());
    }
    let answer = database
        .run_command(doc! { "update": RESULTS, "updates": statements, "ordered": false })
        .await?;
    match answer.get_array("writeErrors") {
        Ok(errors) if !errors.is_empty() => Err(mongodb::error::Error::custom(format!(
            "{} of the results were not written, the first because: {}",
            errors.len(),
            errors
                .first()
                .and_then(bson::Bson::as_document)
                .and_then(|error| error.get_str("errmsg").ok())
                .unwrap_or("the server did not say")
        ))),
        _ => Ok(()),
    }
}

/// The result of job `id` once the job is gone from Redis (after its
/// retention): the one marked completed.
pub async fn kept(database: &Database, id: &str) -> mongodb::error::Result<Option<Value>> {
    let found = results(database)
        .find_one(doc! { "job_id": id, "completed": true })
        .await?;
    Ok(found.and_then(result_of))
}

/// The `result` field of a stored result, as JSON.
fn result_of(document: Document) -> Option<Value> {
    let stored = document.get("result").cloned()?;
    bson::deserialize_from_bson::<Value>(stored).ok()
}

/// The result of `job`, if it succeeded: the one saved by the run holding
/// the token that completed it.
pub async fn visible(
    database: &Database,
    job: &JobRecord,
) -> mongodb::error::Result<Option<Value>> {
    if job.state != JobState::Succeeded {
        return Ok(None);
    }
    let found = results(database)
        .find_one(doc! { "job_id": &job.id, "token": job.token as i64 })
        .await?;
    Ok(found.and_then(result_of))
}
