//! Job results in MongoDB, tagged with the job's id and the fencing token of
//! the run that computed them. A job may run more than once (at-least-once
//! delivery), so several runs may save a result; the one shown is the one
//! whose token completed the job: exactly one result per job.

use bson::{DateTime, Document, doc};
use mongodb::{Collection, Database};
use serde_json::Value;

use super::id::JobId;
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

/// The result of job `id` once the job is gone from Redis (after its
/// retention): the one marked completed.
pub async fn kept(database: &Database, id: &JobId) -> mongodb::error::Result<Option<Value>> {
    let found = results(database)
        .find_one(doc! { "job_id": id.as_str(), "completed": true })
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
        .find_one(doc! { "job_id": job.id.as_str(), "token": job.token as i64 })
        .await?;
    Ok(found.and_then(result_of))
}

/// [`save`] for several runs in one command to the server: an `insert` of
/// one document per run. An insert, not upserts as in [`save`]: a run has
/// one token and saves its result once, and an embedded server may commit
/// each upsert on its own (secantusd-rs takes about ten times as long for
/// thirty upserts as for an insert of thirty). A run whose result is there
/// already (saved, then the answer lost) keeps the one saved. Each result's
/// `_id` is its run's ([`run_key`]), which [`mark_completed_many`] finds
/// them by.
pub async fn save_many(
    database: &Database,
    runs: &[(&Claim, &Value)],
) -> mongodb::error::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let documents: Vec<Document> = runs
        .iter()
        .map(|(claim, result)| {
            let mut document = doc! { "_id": run_key(claim) };
            document.extend(run_of(claim));
            document.extend(stored(result));
            document
        })
        .collect();
    let answer = database
        .run_command(durable(
            database,
            doc! { "insert": RESULTS, "documents": documents, "ordered": false },
        ))
        .await?;
    refused(&answer, is_saved_already)
}

/// [`mark_completed`] for several runs whose results [`save_many`] saved,
/// in one command to the server: one update of the results with those
/// runs' `_id`s (a statement per run costs the server about three times as
/// much).
pub async fn mark_completed_many(
    database: &Database,
    claims: &[&Claim],
) -> mongodb::error::Result<()> {
    if claims.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = claims.iter().map(|claim| run_key(claim)).collect();
    let statement = doc! { "q": { "_id": { "$in": keys } }, "u": COMPLETED.clone(), "multi": true };
    let answer = database
        .run_command(durable(
            database,
            doc! { "update": RESULTS, "updates": [statement] },
        ))
        .await?;
    refused(&answer, |_| false)
}

/// How far back [`reconcile`] looks for results left unmarked.
pub const RECONCILE_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// At most this many unmarked results are checked per [`reconcile`].
const RECONCILE_BATCH: i64 = 256;

/// Marks the results whose runs completed their jobs but were not marked:
/// a worker that dies between completing jobs in Redis and marking their
/// results in MongoDB leaves such results, which [`visible`] still shows
/// (it goes by the job's token) but [`kept`] would not find once the job
/// has expired from Redis. Looks at results saved within
/// [`RECONCILE_WINDOW`], asks `queue` for each one's job, and marks the ones
/// whose token is the one that completed it; answers how many. A result
/// whose run can no longer complete its job (fenced, cancelled, given
/// back) is marked `completed: false`, so that it is not looked at again.
/// Workers run it with their reaping.
pub async fn reconcile(
    database: &Database,
    queue: &super::JobQueue,
) -> Result<u64, super::worker::StepError> {
    let since = DateTime::from_millis(
        DateTime::now().timestamp_millis() - RECONCILE_WINDOW.as_millis() as i64,
    );
    let mut unmarked = results(database)
        .find(doc! { "completed": { "$exists": false }, "saved_at": { "$gte": since } })
        .projection(doc! { "job_id": 1, "token": 1 })
        .limit(RECONCILE_BATCH)
        .await?;
    let (mut completing, mut superseded) = (Vec::new(), Vec::new());
    while unmarked.advance().await? {
        let document = unmarked.deserialize_current()?;
        let (Ok(id), Ok(token), Some(key)) = (
            document.get_str("job_id"),
            document.get_i64("token"),
            document.get("_id"),
        ) else {
            continue;
        };
        // A result's job id was a claim's, which the queue wrote; one that
        // does not parse names no job there.
        let Ok(id) = id.parse::<JobId>() else {
            continue;
        };
        match queue.get(&id).await? {
            Some(job) if job.token as i64 == token && job.state == JobState::Succeeded => {
                completing.push(key.clone());
            }
            // Its run is still finishing: the finisher marks it.
            Some(job) if job.token as i64 == token && job.state == JobState::Running => {}
            // A run that was fenced, cancelled or given back: this result
            // will never be the job's. Marked so, it is not looked at again.
            Some(_) => superseded.push(key.clone()),
            // No such job in this queue: it expired, or it is another
            // queue's (a notebook's worker shares the collection), whose
            // own workers decide.
            None => {}
        }
    }
    // Only results still unmarked: the finisher may have marked one since.
    let unmarked =
        |keys: Vec<bson::Bson>| doc! { "_id": { "$in": keys }, "completed": { "$exists": false } };
    if !superseded.is_empty() {
        results(database)
            .update_many(
                unmarked(superseded),
                doc! { "$set": { "completed": false } },
            )
            .await?;
    }
    if completing.is_empty() {
        return Ok(0);
    }
    let marked = results(database)
        .update_many(unmarked(completing), COMPLETED.clone())
        .await?;
    Ok(marked.modified_count)
}

/// The `_id` of the result [`save_many`] saves for `claim`'s run: the job's
/// id and the run's token, `ID:TOKEN`.
pub fn run_key(claim: &Claim) -> String {
    format!("{}:{}", claim.id, claim.token)
}

/// The stored result of one run: the job's id and the run's token.
fn run_of(claim: &Claim) -> Document {
    doc! { "job_id": claim.id.as_str(), "token": claim.token as i64 }
}

/// The fields that store `result`.
fn stored(result: &Value) -> Document {
    let stored = bson::serialize_to_bson(result).unwrap_or(bson::Bson::Null);
    doc! { "result": stored, "saved_at": DateTime::now() }
}

/// The update that stores `result`.
fn saved(result: &Value) -> Document {
    doc! { "$set": stored(result) }
}

/// The update that marks a run's result as the job's.
static COMPLETED: std::sync::LazyLock<Document> =
    std::sync::LazyLock::new(|| doc! { "$set": { "completed": true } });

/// `command` with the write concern the typed helpers would send
/// (`database`'s, which the lab's clients set to journaled): the driver
/// adds none to a command run as a document.
fn durable(database: &Database, mut command: Document) -> Document {
    let concern = database
        .write_concern()
        .and_then(|concern| bson::serialize_to_document(concern).ok())
        .filter(|concern| !concern.is_empty());
    if let Some(concern) = concern {
        command.insert("writeConcern", concern);
    }
    command
}

/// MongoDB's code for a write refused by a unique index.
const DUPLICATE_KEY: i32 = 11000;

/// Whether a write error of [`save_many`] says the result is saved
/// already: a duplicate of its `_id` (its run's key), not a document that
/// another unique index refused, which is a failure like any other.
fn is_saved_already(error: &Document) -> bool {
    error.get_i32("code").ok() == Some(DUPLICATE_KEY)
        && match error.get_document("keyPattern") {
            Ok(pattern) => pattern.keys().eq(["_id"]),
            Err(_) => error
                .get_str("errmsg")
                .is_ok_and(|message| message.contains(" index: _id_ ")),
        }
}

/// The failure a write command's `answer` reports, if any, apart from
/// errors `allowed` accepts: the server answers `ok: 1` with a list of
/// `writeErrors` when some statements failed, or with a
/// `writeConcernError` when the writes were made but not as durably as
/// asked, which the typed helpers (`update_one`) would have turned into an
/// error.
fn refused(answer: &Document, allowed: impl Fn(&Document) -> bool) -> mongodb::error::Result<()> {
    use mongodb::error::{ErrorKind, WriteConcernError, WriteFailure};
    if let Ok(concern) = answer.get_document("writeConcernError") {
        return Err(
            match bson::deserialize_from_document::<WriteConcernError>(concern.clone()) {
                Ok(concern) => ErrorKind::Write(WriteFailure::WriteConcernError(concern)).into(),
                Err(_) => mongodb::error::Error::custom(format!(
                    "the results were not confirmed as durable: {concern}"
                )),
            },
        );
    }
    let errors: Vec<&Document> = answer
        .get_array("writeErrors")
        .map(|errors| errors.iter().filter_map(bson::Bson::as_document).collect())
        .unwrap_or_default();
    let failed: Vec<&&Document> = errors.iter().filter(|error| !allowed(error)).collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(mongodb::error::Error::custom(format!(
            "{} of the results were not written, the first because: {}",
            failed.len(),
            first.get_str("errmsg").unwrap_or("the server did not say")
        ))),
    }
}
