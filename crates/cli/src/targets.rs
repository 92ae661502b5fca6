//! Several sticks in one run (`install A B`, `add --to A --to B ISO...`): each stick is
//! written by a thread of its own, at the same time as the others, as balenaEtcher and
//! popsicle do; one stick's failure does not stop the others. The command's result is
//! decided here once (docs/multi.md): every stick done is success; any stick failed or
//! refused is an error (exit 2), after the others have finished, with one summary line
//! per stick saying which.

use anyhow::anyhow;
use std::path::{Path, PathBuf};

/// Run `work` for every target at once (one thread each; a single target runs on the
/// caller's thread) and return the results in the order of `targets`.
pub fn in_parallel<T, F>(targets: &[PathBuf], work: F) -> Vec<anyhow::Result<T>>
where
    T: Send,
    F: Fn(usize, &Path) -> anyhow::Result<T> + Sync,
{
    if let [only] = targets {
        return vec![work(0, only)];
    }
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| s.spawn(move || work(i, t)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("the thread writing this stick panicked")))
            })
            .collect()
    })
}

/// The result of a run over several targets: with one target, its own result (its error
/// is the command's error); with several, a line per failed stick on standard error,
/// then `Ok` when all succeeded (saying so on stdout unless `json`: its document is
/// stdout's only content), else an error naming the failed ones (exit 2).
pub fn conclude<T>(
    targets: &[PathBuf],
    results: Vec<anyhow::Result<T>>,
    json: bool,
) -> anyhow::Result<()> {
    if targets.len() == 1 {
        return results
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(anyhow!("no stick was given")))
            .map(|_| ());
    }
    let mut failed = Vec::new();
    for (t, r) in targets.iter().zip(&results) {
        if let Err(e) = r {
            eprintln!("bootshelf: error: {}: {e:#}", t.display());
            failed.push(t.display().to_string());
        }
    }
    if failed.is_empty() {
        if !json {
            println!("{} of {} sticks done", targets.len(), targets.len());
        }
        return Ok(());
    }
    let others = match targets.len() - failed.len() {
        0 => "none was done".to_string(),
        1 => "the other stick is done".to_string(),
        n => format!("the other {n} are done"),
    };
    Err(anyhow!(
        "{} of {} sticks failed ({}); {others}",
        failed.len(),
        targets.len(),
        failed.join(", "),
    ))
}

/// What `--json` prints for a run: with one target that succeeded, its report `T`; with
/// several, an array in the order of the targets, each its report or `{"target",
/// "error"}`. (With one failed target there is no document: the error is the command's.)
pub fn json_report<T: serde::Serialize>(
    targets: &[PathBuf],
    results: &[anyhow::Result<T>],
) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum Row<'a, T> {
        Done(&'a T),
        Failed { target: String, error: String },
    }
    if let ([_], [Ok(one)]) = (targets, results) {
        return crate::out::json(one);
    }
    if targets.len() == 1 {
        return Ok(());
    }
    let rows: Vec<Row<T>> = targets
        .iter()
        .zip(results)
        .map(|(t, r)| match r {
            Ok(done) => Row::Done(done),
            Err(e) => Row::Failed {
                target: t.display().to_string(),
                error: format!("{e:#}"),
            },
        })
        .collect();
    crate::out::json(&rows)
}

/// Refuse a stick given twice (two threads would write it at once).
pub fn check_distinct(targets: &[PathBuf]) -> anyhow::Result<()> {
    for (i, a) in targets.iter().enumerate() {
        let same = |b: &PathBuf| {
            a == b
                || match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
                    (Ok(x), Ok(y)) => x == y,
                    _ => false,
                }
        };
        if let Some(b) = targets.iter().skip(i + 1).find(|b| same(b)) {
            anyhow::bail!(
                "{} and {} are the same stick; give each stick once",
                a.display(),
                b.display()
            );
        }
    }
    Ok(())
}
