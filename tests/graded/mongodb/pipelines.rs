//! Graded tests of the pipelines exercise, shared by `exercises` and
//! `solutions`. The answers are checked against the lab's own reports and
//! against a snapshot recorded from the answer key on the test data set.
//!
//! Besides the answers, the tests look at what each function asked MongoDB
//! to do (`TestEnv::record_mongo`): ONE `aggregate` whose stages do the work
//! inside the server (`$match` first, `$group`, `$sort`, `$limit`, `$lookup`,
//! `$unwind`), not a `find` whose documents are summed, sorted or joined in
//! Rust. `$project` and `$addFields`, and any way of reading the rows, are
//! all accepted.

use super::pipelines::*;
use lab::analysis::plan::explain_find;
use lab::analysis::{monthly, revenue, status, top};
use lab::billing::Total;
use lab::bson::oid::ObjectId;
use lab::bson::{Bson, Decimal128, Document, doc};
use lab::mongodb::Database;
use lab::testing::{MongoCommand, MongoLog, TestEnv};

/// The one `aggregate` `function` sent, after checking that it sent nothing
/// else (the `getMore`s of its cursor aside).
fn the_one_aggregate<'a>(function: &str, sent: &'a MongoLog) -> &'a MongoCommand {
    let others = sent
        .names()
        .into_iter()
        .filter(|name| !matches!(*name, "aggregate" | "getMore" | "killCursors"))
        .count();
    assert!(
        sent.count("aggregate") == 1 && others == 0,
        "{function} must answer with ONE aggregate whose pipeline runs the whole question in the \
         database (only its cursor's getMore may follow); it sent {}. A find whose documents are \
         added up, sorted or joined in Rust, or a query per row, moves the data to the client \
         instead of the answer",
        sent.listing()
    );
    sent.all("aggregate")[0]
}

/// The pipeline's stages as `(name, body)`, in order.
fn stages(command: &MongoCommand) -> Vec<(String, Bson)> {
    command
        .body
        .get_array("pipeline")
        .map(|stages| {
            stages
                .iter()
                .filter_map(Bson::as_document)
                .filter_map(|stage| {
                    let (name, body) = stage.iter().next()?;
                    Some((name.clone(), body.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Where the first stage called `name` is.
fn position(stages: &[(String, Bson)], name: &str) -> Option<usize> {
    stages.iter().position(|(stage, _)| stage == name)
}

/// Where the last stage called `name` is.
fn last_position(stages: &[(String, Bson)], name: &str) -> Option<usize> {
    stages.iter().rposition(|(stage, _)| stage == name)
}

/// Whether `value` names `field`, as a key of a filter or as a `"$field"`
/// path in an expression, anywhere inside.
fn mentions(value: &Bson, field: &str) -> bool {
    match value {
        Bson::Document(document) => document
            .iter()
            .any(|(key, inner)| key == field || mentions(inner, field)),
        Bson::Array(items) => items.iter().any(|item| mentions(item, field)),
        Bson::String(text) => text.strip_prefix('$') == Some(field),
        _ => false,
    }
}

/// Whether a stage of `stages` adds up with `$sum`, so totals come back
/// rather than the amounts they are made of.
fn adds_up_on_the_server(stages: &[(String, Bson)]) -> bool {
    stages.iter().any(|(_, body)| mentions(body, "$sum"))
}

/// A whole number as the driver may send it.
fn whole(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(n) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

/// The stage names, for messages.
fn names(stages: &[(String, Bson)]) -> String {
    let names: Vec<&str> = stages.iter().map(|(name, _)| name.as_str()).collect();
    format!("[{}]", names.join(", "))
}

/// Checks that a `$limit` of `n` ends the ranked rows on the server: after
/// a `$sort` that comes after the last `$group` before it (the sort that
/// ranks the groups). A later `$sort`, after a join, is fine.
fn limits_on_the_server(function: &str, stages: &[(String, Bson)], n: u32) -> usize {
    let limit = stages
        .iter()
        .position(|(name, body)| name == "$limit" && whole(body) == Some(i64::from(n)));
    let ranked = limit.filter(|&limit| {
        let before = &stages[..limit];
        let grouped = before.iter().rposition(|(name, _)| name == "$group");
        before
            .iter()
            .enumerate()
            .any(|(at, (name, _))| name == "$sort" && grouped.is_none_or(|group| at > group))
    });
    match ranked {
        Some(limit) => limit,
        None => panic!(
            "{function}({n}) must keep the first {n} rows on the server, with a $limit of {n} \
             after the $sort that ranks the groups: its pipeline was {}; taking the first rows in \
             Rust sends every row to the client, and a $limit before that $sort keeps {n} rows \
             picked at random",
            names(stages)
        ),
    }
}

/// Replaces the test's data with `count` customers whose invoices add up to
/// the same revenue, invoiced in the reverse order of their `_id`s (so the
/// server meets them in that order), and returns them as `top_customers`
/// must rank them: by `_id`, the tie break.
async fn tied_customers(db: &Database, count: usize) -> Vec<(String, Total)> {
    let customers = db.collection::<Document>("customers");
    let invoices = db.collection::<Document>("invoices");
    customers.drop().await.unwrap();
    invoices.drop().await.unwrap();
    let mut ids: Vec<ObjectId> = (0..count).map(|_| ObjectId::new()).collect();
    ids.sort();
    let amount: Decimal128 = "250.00".parse().unwrap();
    let mut ranking = Vec::new();
    for (number, id) in ids.iter().enumerate() {
        let name = format!("Tied customer {:02}", number + 1);
        customers
            .insert_one(
                doc! { "_id": id, "name": &name, "email": format!("tied{number}@example.com") },
            )
            .await
            .unwrap();
        ranking.push((name, Total::from_bson(&Bson::Decimal128(amount)).unwrap()));
    }
    for id in ids.iter().rev() {
        invoices
            .insert_one(doc! { "customer_id": id, "status": "paid", "total_amount": amount })
            .await
            .unwrap();
    }
    ranking
}

/// Replaces the test's invoices with `count` products each sold 5 times,
/// invoiced in the reverse order of their descriptions, and returns them
/// as `best_sellers` must rank them: by description, the tie break.
async fn tied_products(db: &Database, count: usize) -> Vec<(String, i64)> {
    let invoices = db.collection::<Document>("invoices");
    invoices.drop().await.unwrap();
    let ranking: Vec<(String, i64)> = (1..=count)
        .map(|number| (format!("Tied product {number:02}"), 5))
        .collect();
    for (description, _) in ranking.iter().rev() {
        invoices
            .insert_one(doc! {
                "customer_id": ObjectId::new(),
                "items": [{ "description": description, "quantity": 5 }],
            })
            .await
            .unwrap();
    }
    ranking
}

/// The first element of each pair, for messages.
fn firsts<T>(rows: &[(String, T)]) -> Vec<&str> {
    rows.iter().map(|(first, _)| first.as_str()).collect()
}

/// Inserts a copy of one stored invoice for each of `dates` (RFC 3339),
/// dated then, so a test can put invoices on the edges of a range.
async fn add_copies_dated(db: &Database, dates: &[&str]) {
    let invoices = db.collection::<Document>("invoices");
    let model = invoices
        .find_one(doc! {})
        .await
        .unwrap()
        .expect("the seeded data set has invoices");
    for date in dates {
        let mut copy = model.clone();
        copy.insert("_id", ObjectId::new());
        copy.insert(
            "invoice_date",
            lab::bson::DateTime::parse_rfc3339_str(date).unwrap(),
        );
        copy.insert(
            "due_date",
            lab::bson::DateTime::parse_rfc3339_str(date).unwrap(),
        );
        invoices.insert_one(copy).await.unwrap();
    }
}

/// The lab's own answer for `year`'s months, to compare with.
async fn months_of(db: &Database, year: i32) -> Vec<(String, Total)> {
    let (start, end) = (format!("{year}-01-01"), format!("{}-01-01", year + 1));
    let range = monthly::DateRange::parse(&start, &end).unwrap();
    monthly::by_month(db, range)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.month, row.revenue))
        .collect()
}

#[tokio::test]
async fn revenue_of_one_customer_is_the_sum_of_their_invoices() {
    let env = TestEnv::start_seeded().await;
    let ranking = revenue::by_customer(env.database(), None).await.unwrap();
    for row in ranking.iter().take(3) {
        let recording = env.record_mongo();
        let answer = revenue_of(env.database(), row.customer_id)
            .await
            .expect("revenue_of returned an error");
        let sent = recording.finish();
        assert_eq!(
            answer,
            Some(row.total_revenue),
            "revenue_of must be the exact sum of the customer's total_amount ($sum of Decimal128, \
             read with Total::from_bson)"
        );
        let pipeline = stages(the_one_aggregate("revenue_of", &sent));
        assert!(
            pipeline
                .first()
                .is_some_and(|(name, body)| name == "$match" && mentions(body, "customer_id")),
            "revenue_of must start its pipeline with $match on customer_id, so the filter runs in \
             the database (where the customer_id index serves it) and $group adds up only this \
             customer's invoices: its pipeline was {}",
            names(&pipeline)
        );
        assert!(
            position(&pipeline, "$group").is_some(),
            "revenue_of must add up the invoices with a $group stage ($sum of \"$total_amount\"), \
             so only the sum comes back, not the invoices: its pipeline was {}",
            names(&pipeline)
        );
        assert!(
            adds_up_on_the_server(&pipeline),
            "revenue_of must add up the amounts in the database, with $sum of \"$total_amount\" \
             in its $group, so only the sum comes back: its pipeline has no $sum ({}), so the \
             amounts themselves came back (collected with $push, say) and were added in Rust",
            names(&pipeline)
        );
    }
    assert_eq!(
        revenue_of(env.database(), ObjectId::new())
            .await
            .expect("revenue_of returned an error for a customer without invoices"),
        None,
        "a customer without invoices has no revenue row: when $group makes no document, \
         revenue_of answers None, not a zero"
    );
    // An invoice whose amount was stored as a double: a plain $sum answers
    // a double, which is no exact sum. An error says so; a pipeline that
    // converts it to Decimal128 first gets the exact 12.50; None is wrong.
    let odd = ObjectId::new();
    env.database()
        .collection::<Document>("invoices")
        .insert_one(doc! { "customer_id": odd, "total_amount": 12.5 })
        .await
        .unwrap();
    let outcome = revenue_of(env.database(), odd).await;
    let exact: Decimal128 = "12.50".parse().unwrap();
    let exact = Total::from_bson(&Bson::Decimal128(exact)).unwrap();
    assert!(
        match &outcome {
            Err(_) => true,
            Ok(Some(total)) => *total == exact,
            Ok(None) => false,
        },
        "customer {odd}'s one invoice holds its total_amount as the double 12.5, so a plain $sum \
         answers a double, which is not an exact sum; revenue_of must return the error \
         Total::from_bson gives (`.transpose()` on the row's total, or `?`), and it answered \
         {outcome:?}: None would say the customer has no invoices"
    );
    // A server that is not there: the aggregate fails.
    let outcome =
        lab::testing::with_mongodb_down(env.database().name(), "revenue_of", |down| async move {
            revenue_of(&down, odd).await
        })
        .await;
    assert!(
        outcome.is_err(),
        "MongoDB could not be reached, so the aggregate failed, yet revenue_of answered \
         {outcome:?}: a failed query is an error to return with `?`, not None (which says the \
         customer has no invoices)"
    );
}

#[tokio::test]
async fn invoices_are_counted_per_status() {
    let env = TestEnv::start_seeded().await;
    let expected: Vec<(String, u64)> = status::status_summary(env.database())
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.status, row.invoices))
        .collect();
    let recording = env.record_mongo();
    let answer = invoices_per_status(env.database())
        .await
        .expect("invoices_per_status returned an error");
    let sent = recording.finish();
    assert_eq!(
        answer, expected,
        "invoices_per_status must count every invoice of each status ($group on \"$status\" with \
         {{\"$sum\": 1}}), in alphabetical order of status"
    );
    let pipeline = stages(the_one_aggregate("invoices_per_status", &sent));
    // `$sortByCount` is a `$group` with a count followed by a `$sort`.
    let group = position(&pipeline, "$group").or(position(&pipeline, "$sortByCount"));
    assert!(
        group.is_some(),
        "invoices_per_status must count in the database with $group on \"$status\" (or \
         $sortByCount): its pipeline was {}",
        names(&pipeline)
    );
    assert!(
        last_position(&pipeline, "$sort") > group,
        "invoices_per_status must order the groups on the server, with a $sort on _id after the \
         $group, not by sorting the rows in Rust: its pipeline was {}",
        names(&pipeline)
    );
    // Counted by an accumulator, by $sortByCount, or by the $size of what
    // a $group collected: any of them counts in the database.
    let counts_on_the_server = position(&pipeline, "$sortByCount").is_some()
        || pipeline.iter().any(|(_, body)| {
            mentions(body, "$sum") || mentions(body, "$count") || mentions(body, "$size")
        });
    assert!(
        counts_on_the_server,
        "invoices_per_status must count in the database, with {{\"$sum\": 1}} in its $group (or \
         $sortByCount): its pipeline ({}) has no $sum, $count or $size, so its $group collected \
         the invoices of each status instead of counting them, and they were counted in Rust",
        names(&pipeline)
    );
}

#[tokio::test]
async fn monthly_revenue_covers_the_year_in_calendar_order() {
    let env = TestEnv::start_seeded().await;
    // Invoices on the edges a date range gets wrong: the first instant of
    // 2025 is 2025's (`$gte`, not `$gt`), and so is the last half second of
    // it (dates have milliseconds: `$lte` 23:59:59 is no end); the first
    // instant of 2026 belongs to the next year (`$lt`, not `$lte`); and
    // 23:30 UTC on 31 March is in March (months in UTC, as stored), though
    // it is already April in Paris.
    add_copies_dated(
        env.database(),
        &[
            "2025-01-01T00:00:00Z",
            "2025-12-31T23:59:59.500Z",
            "2026-01-01T00:00:00Z",
            "2025-03-31T23:30:00Z",
        ],
    )
    .await;
    let expected = months_of(env.database(), 2025).await;
    let recording = env.record_mongo();
    let answer = monthly_revenue(env.database(), 2025)
        .await
        .expect("monthly_revenue returned an error");
    let sent = recording.finish();
    assert_eq!(
        answer, expected,
        "monthly_revenue(2025) must give each month of 2025 that has invoices as (\"YYYY-MM\", \
         exact revenue), in calendar order: $match the year's invoice_date from its first \
         instant up to, not including, the next year's ($gte and $lt: an invoice dated \
         2026-01-01T00:00:00Z is 2026's, while invoices dated 2025-01-01T00:00:00Z, the first \
         instant itself, and 2025-12-31T23:59:59.500Z, dates having milliseconds, are 2025's), \
         $group on $dateToString with format \"%Y-%m\" in UTC \
         (no timezone: an invoice at 23:30 UTC on 31 March is March's), $sort on _id"
    );
    let pipeline = stages(the_one_aggregate("monthly_revenue", &sent));
    assert!(
        pipeline
            .first()
            .is_some_and(|(name, body)| name == "$match" && mentions(body, "invoice_date")),
        "monthly_revenue must start its pipeline with $match on invoice_date (from the first \
         instant of the year to the first of the next), so only that year's invoices are grouped \
         and the invoice_date index can serve it; grouping every year and keeping one in Rust, or \
         with a later stage, does the work for all of them: its pipeline was {}",
        names(&pipeline)
    );
    let year_filter = pipeline
        .first()
        .and_then(|(_, body)| body.as_document())
        .cloned()
        .unwrap_or_default();
    let plan = explain_find(env.database(), "invoices", year_filter.clone())
        .await
        .unwrap_or_else(|error| panic!("the harness could not explain {year_filter}: {error}"));
    assert!(
        !plan.is_collection_scan() && plan.docs_examined == plan.returned,
        "monthly_revenue's $match must be a range on the field itself, {{invoice_date: {{$gte: \
         <the first instant of the year>, $lt: <the first of the next>}}}}, which the \
         invoice_date index serves, so the server reads only that year's invoices; its $match \
         {year_filter} made the server read more invoices than it keeps ({plan}): an expression \
         on the date (such as $year in $expr) is computed for each invoice, and no index can \
         answer it"
    );
    let group = position(&pipeline, "$group");
    assert!(
        group.is_some(),
        "monthly_revenue must add up each month in the database with $group on the month \
         ($dateToString with format \"%Y-%m\"): its pipeline was {}",
        names(&pipeline)
    );
    assert!(
        adds_up_on_the_server(&pipeline),
        "monthly_revenue must add up each month's amounts in the database, with $sum of \
         \"$total_amount\" in its $group, so one total per month comes back: its pipeline has \
         no $sum ({}), so every invoice's amount came back (collected with $push, say) and was \
         added in Rust",
        names(&pipeline)
    );
    assert!(
        last_position(&pipeline, "$sort") > group,
        "monthly_revenue must put the months in calendar order on the server, with a $sort on _id \
         after the $group: its pipeline was {}",
        names(&pipeline)
    );
    // A leap year: 2024 has 366 days, and its 31 December is December's.
    add_copies_dated(env.database(), &["2024-12-31T12:00:00Z"]).await;
    let expected = months_of(env.database(), 2024).await;
    let answer = monthly_revenue(env.database(), 2024)
        .await
        .expect("monthly_revenue returned an error");
    assert_eq!(
        answer, expected,
        "monthly_revenue(2024) must cover the whole of 2024, a leap year of 366 days: an invoice \
         dated 2024-12-31T12:00:00Z is December's. End the range at the first instant of the \
         next year (`year + 1`, January 1st), not at the start plus 365 days"
    );
    assert!(
        monthly_revenue(env.database(), 1999)
            .await
            .expect("monthly_revenue returned an error for a year without invoices")
            .is_empty(),
        "a year without invoices has no months: the $match keeps nothing and the answer is empty"
    );
}

/// The answer to `n` = 0: an empty list, not an error (MongoDB refuses
/// `$limit: 0`) and not every row (a pipeline that left the limit out).
fn nothing_asked_nothing_given<T, E: std::fmt::Display>(
    name: &str,
    answer: Result<Vec<T>, E>,
    what: &str,
) {
    let answer = answer.unwrap_or_else(|error| {
        panic!(
            "{name}(0) returned an error ({error}): asked for no {what}, answer an empty list. \
             MongoDB refuses `$limit: 0`, so return before running the pipeline"
        )
    });
    assert!(
        answer.is_empty(),
        "{name}(0) must give no {what}; it gave {} of them",
        answer.len()
    );
}

#[tokio::test]
async fn top_customers_come_with_their_names() {
    let env = TestEnv::start_seeded().await;
    let expected: Vec<(String, Total)> = top::top_customers(env.database(), 4)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.name.unwrap_or_default(), row.revenue))
        .collect();
    let recording = env.record_mongo();
    let answer = top_customers(env.database(), 4)
        .await
        .expect("top_customers returned an error");
    let sent = recording.finish();
    assert_eq!(
        answer, expected,
        "top_customers(4) must give the 4 customers with the most revenue, best first (ties by \
         _id), each with the name from the customers collection"
    );
    let pipeline = stages(the_one_aggregate("top_customers", &sent));
    let lookup = pipeline.iter().position(|(name, body)| {
        name == "$lookup"
            && body
                .as_document()
                .is_some_and(|lookup| lookup.get_str("from").ok() == Some("customers"))
    });
    let Some(lookup) = lookup else {
        panic!(
            "top_customers must join the names inside the pipeline, with $lookup from \
             \"customers\", not with a query per customer: its pipeline was {}",
            names(&pipeline)
        );
    };
    assert!(
        position(&pipeline, "$group").is_some_and(|group| group < lookup),
        "top_customers must add up the revenue per customer with $group on \"$customer_id\" \
         before the $lookup: its pipeline was {}",
        names(&pipeline)
    );
    let limit = limits_on_the_server("top_customers", &pipeline, 4);
    assert!(
        limit < lookup,
        "top_customers must $group, $sort and $limit first, then $lookup: the join then looks up \
         only the 4 customers kept, not every customer: its pipeline was {}",
        names(&pipeline)
    );

    let tied = tied_customers(env.database(), 12).await;
    let answer = top_customers(env.database(), 3)
        .await
        .expect("top_customers returned an error on customers with equal revenue");
    assert_eq!(
        answer,
        tied[..3],
        "top_customers(3) must break ties by _id: here 12 customers have the same revenue, \
         250.00, so the 3 with the smallest _id are expected, {:?}; it returned {:?}. Sort on the \
         revenue, then on _id ($sort {{revenue: -1, _id: 1}}): rows with equal revenue come out \
         of $group and $sort in no set order, and $limit keeps whichever come first, so without \
         the tie break the answer can change from one run to the next",
        firsts(&tied[..3]),
        firsts(&answer)
    );
    nothing_asked_nothing_given(
        "top_customers",
        top_customers(env.database(), 0).await,
        "customers",
    );
}

#[tokio::test]
async fn best_sellers_unwind_the_line_items() {
    let env = TestEnv::start_seeded().await;
    let mut sold: std::collections::BTreeMap<String, i64> = Default::default();
    let mut cursor = lab::billing::collections::invoices(env.database())
        .find(doc! {})
        .await
        .unwrap();
    while cursor.advance().await.unwrap() {
        for item in &cursor.deserialize_current().unwrap().items {
            *sold.entry(item.description.clone()).or_default() += i64::from(item.quantity);
        }
    }
    let mut expected: Vec<(String, i64)> = sold.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    expected.truncate(4);
    let recording = env.record_mongo();
    let answer = best_sellers(env.database(), 4)
        .await
        .expect("best_sellers returned an error");
    let sent = recording.finish();
    assert_eq!(
        answer, expected,
        "best_sellers(4) must give the 4 products sold in the largest quantities over all \
         invoices (sum of items.quantity per items.description), most sold first, ties by \
         description"
    );
    let pipeline = stages(the_one_aggregate("best_sellers", &sent));
    let unwind = pipeline.iter().position(|(name, body)| {
        let path = match body {
            Bson::Document(options) => options.get_str("path").ok(),
            Bson::String(path) => Some(path.as_str()),
            _ => None,
        };
        name == "$unwind" && path == Some("$items")
    });
    let Some(unwind) = unwind else {
        panic!(
            "best_sellers must turn each invoice into one document per line item with $unwind \
             \"$items\", so that $group can add up the items across invoices: its pipeline was {}",
            names(&pipeline)
        );
    };
    assert!(
        last_position(&pipeline, "$group").is_some_and(|group| group > unwind),
        "best_sellers must add up the quantities in the database, with $group on \
         \"$items.description\" after the $unwind: its pipeline was {}",
        names(&pipeline)
    );
    limits_on_the_server("best_sellers", &pipeline, 4);

    let tied = tied_products(env.database(), 12).await;
    let answer = best_sellers(env.database(), 3)
        .await
        .expect("best_sellers returned an error on products sold in equal numbers");
    assert_eq!(
        answer,
        tied[..3],
        "best_sellers(3) must break ties by description: here 12 products are each sold 5 times, \
         so the first 3 by description are expected, {:?}; it returned {:?}. Sort on the quantity, \
         then on the description ($sort {{sold: -1, _id: 1}}): groups with equal quantities come \
         out of $group and $sort in no set order, and $limit keeps whichever come first, so \
         without the tie break the answer can change from one run to the next",
        firsts(&tied[..3]),
        firsts(&answer)
    );

    // One product sold at two prices (a price rise between two invoices):
    // still one product, 8 sold, ahead of the tied ones.
    let invoices = env.database().collection::<Document>("invoices");
    for price in [10, 12] {
        invoices
            .insert_one(doc! {
                "customer_id": ObjectId::new(),
                "items": [{ "description": "Price rise", "quantity": 4, "unit_price": price }],
            })
            .await
            .unwrap();
    }
    let answer = best_sellers(env.database(), 1)
        .await
        .expect("best_sellers returned an error on a product sold at two prices");
    assert_eq!(
        answer,
        [("Price rise".to_owned(), 8)],
        "a product is its description, whatever it was sold at: `Price rise` was sold 4 times at \
         10 and 4 times at 12, so best_sellers(1) is [(\"Price rise\", 8)], ahead of the products \
         sold 5 times; it returned {answer:?}. Group on \"$items.description\" alone: a group key \
         with the price in it splits one product into a row per price"
    );
    // Any u32 is a number of products to ask for, the largest included.
    let everything = best_sellers(env.database(), u32::MAX)
        .await
        .unwrap_or_else(|error| {
            panic!(
                "best_sellers(u32::MAX) returned an error ({error}): asking for more products \
                 than there are (u32::MAX, the usual \"all of them\") must give every product. \
                 Any u32 is a valid n: write the limit as `i64::from(n)` (or `doc! {{ \"$limit\": \
                 n }}`); `n as i32` wraps every n above i32::MAX round to a negative number, a \
                 $limit the server refuses"
            )
        });
    let mut every_product = vec![("Price rise".to_owned(), 8)];
    every_product.extend(tied.iter().cloned());
    assert_eq!(
        everything,
        every_product,
        "best_sellers(u32::MAX) must give every product, most sold first: `Price rise` (8), then \
         the 12 products sold 5 times, by description; it returned {:?}",
        firsts(&everything)
    );
    // A product sold in bulk: its quantity is stored as an Int64, so its
    // $sum is an Int64 too, as any total past i32::MAX is.
    invoices
        .insert_one(doc! {
            "customer_id": ObjectId::new(),
            "items": [{ "description": "Bulk order", "quantity": 3_000_000_000_i64 }],
        })
        .await
        .unwrap();
    let answer = best_sellers(env.database(), 1)
        .await
        .expect("best_sellers returned an error on a product sold 3,000,000,000 times");
    assert_eq!(
        answer,
        [("Bulk order".to_owned(), 3_000_000_000)],
        "`Bulk order` was sold 3,000,000,000 times, more than an Int32 holds, so best_sellers(1) \
         is [(\"Bulk order\", 3000000000)]; it returned {answer:?}. $sum answers an Int64 once \
         a total passes 2,147,483,647 (or a quantity is stored as one), which `get_i32` cannot \
         read: read `sold` as an Int32 or an Int64 (`match` on `Bson::Int32` and \
         `Bson::Int64`), the reason best_sellers returns i64"
    );
    nothing_asked_nothing_given(
        "best_sellers",
        best_sellers(env.database(), 0).await,
        "products",
    );
}

#[tokio::test]
async fn every_answer_matches_the_recorded_one() {
    let env = TestEnv::start_seeded().await;
    let db = env.database();
    let first = revenue::by_customer(db, None).await.unwrap()[0].customer_id;
    let answers = serde_json::json!({
        "revenue_of_the_best_customer": revenue_of(db, first).await.expect("revenue_of returned an error"),
        "invoices_per_status": invoices_per_status(db).await.expect("invoices_per_status returned an error"),
        "monthly_revenue_2025": monthly_revenue(db, 2025).await.expect("monthly_revenue returned an error"),
        "top_customers": top_customers(db, 3).await.expect("top_customers returned an error"),
        "best_sellers": best_sellers(db, 5).await.expect("best_sellers returned an error"),
    });
    lab::graded_snapshot!(
        "billing_pipelines",
        answers,
        "the five answers on the test data must be the answer key's: exact Decimal128 sums read \
         as Total, statuses and months in order, names joined with $lookup, products by quantity \
         with ties by description"
    );
}
