//! Port of StackStorm 3.9.0's `st2client/tests/unit/test_execution_tail_command.py` (tag
//! `v3.9.0`): `st2 execution tail` of actions and workflows, the lines it prints about a
//! workflow's tasks and their output.
//!
//! Upstream mocks `GET /executions/ID` and the stream's events; here the stand-in cluster
//! ([`St2Server`](crate::st2server::St2Server)) answers the same executions (the ids and
//! events of upstream's `MOCK_*` objects, made whole executions so that they pass the API's
//! schema: a workflow's runner is `action-chain` or `orquesta`, a task is a `core.local` run
//! with upstream's `context`) and plays the same events on its general stream, one script per
//! test; the output of a running action goes through the stream's `/executions/ID/output`.
//!
//! Where we differ on purpose (`../shared/spec/remote-api.md` §3 **[fix]**):
//! - A running action (not a workflow) is followed on `/executions/ID/output`, which replays
//!   what it printed before the tail began (upstream listens to the general stream and loses
//!   it). That stream has no status events, so `test_tail_simple_execution_running_with_data`
//!   prints no `Execution ID has started.` line.
//! - `test_tail_child_execution_directly`: the execution tailed is the one whose end ends the
//!   tail, so a task tailed directly prints its output and `Execution ID has completed
//!   (status=S).` (upstream prints it as a child, `Child execution (task=T) ID has started.`
//!   and `... has finished`, and would miss what a sub-workflow tailed that way starts later).
//!
//! The other five cases print exactly upstream's expected text.

use serde_json::Value;

use crate::remote::{assert_exit, show, text, Auth, Cluster};
use crate::st2server::*;

/// `st2 execution tail ID` with a token: its stdout, after checking it exited 0 with nothing
/// on stderr.
fn tail(cluster: &Cluster, id: &str) -> String {
    let output = cluster.st2(Auth::Token, &["execution", "tail", id]);
    assert_exit(&output, 0);
    assert_eq!(text(&output.stderr), "", "{}", show(&output));
    text(&output.stdout)
}

/// An `st2.execution__update` event of `execution`.
fn update(execution: Value) -> EventStep {
    EventStep::Event("st2.execution__update", execution)
}

/// A core.local execution with upstream's id and status.
fn simple(id: &str, status: &str) -> Value {
    execution(id, status, serde_json::json!({"cmd": "date"}))
}

/// The stand-in with `executions` and the general stream of `id` playing `events`.
fn cluster_with(executions: &[Value], id: &str, events: Vec<EventStep>) -> Option<Cluster> {
    let cluster = Cluster::start()?;
    cluster.server.world(|world| {
        for execution in executions {
            let key = execution["id"].as_str().unwrap().to_string();
            world.executions.insert(key, execution.clone());
        }
        world
            .general_streams
            .insert(id.into(), std::collections::VecDeque::from([events]));
    });
    Some(cluster)
}

#[test]
fn test_tail_simple_execution_already_finished_succeeded() {
    let Some(cluster) = cluster_with(&[simple("idfoo1", "succeeded")], "idfoo1", Vec::new()) else {
        return;
    };
    let stdout = tail(&cluster, "idfoo1");
    assert!(
        stdout.contains("Execution idfoo1 has completed (status=succeeded)"),
        "{stdout}"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_tail_simple_execution_already_finished_failed() {
    let Some(cluster) = cluster_with(&[simple("idfoo2", "failed")], "idfoo2", Vec::new()) else {
        return;
    };
    let stdout = tail(&cluster, "idfoo2");
    assert!(
        stdout.contains("Execution idfoo2 has completed (status=failed)"),
        "{stdout}"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_tail_simple_execution_running_no_data_produced() {
    let Some(cluster) = cluster_with(&[simple("idfoo1", "running")], "idfoo1", Vec::new()) else {
        return;
    };
    cluster.server.world(|world| {
        world.output.insert("idfoo1".into(), Vec::new());
        world
            .streams
            .insert("idfoo1".into(), vec![StreamStep::Finish("succeeded")]);
    });
    assert_eq!(
        tail(&cluster, "idfoo1"),
        "\nExecution idfoo1 has completed (status=succeeded).\n"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_tail_simple_execution_running_with_data() {
    let Some(cluster) = cluster_with(&[simple("idfoo3", "running")], "idfoo3", Vec::new()) else {
        return;
    };
    cluster.server.world(|world| {
        world.output.insert("idfoo3".into(), Vec::new());
        world.streams.insert(
            "idfoo3".into(),
            vec![
                StreamStep::Output("stdout", "line 1\n".into()),
                StreamStep::Output("stderr", "line 2\n".into()),
                StreamStep::Finish("succeeded"),
            ],
        );
    });
    // [fix] No "Execution idfoo3 has started." (see the module's doc).
    assert_eq!(
        tail(&cluster, "idfoo3"),
        "line 1\nline 2\n\nExecution idfoo3 has completed (status=succeeded).\n"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_tail_action_chain_workflow_execution() {
    let chain = |status: &str| workflow_execution("idfoo3", "action-chain", status, None);
    let child = |id: &str, task: &str, status: &str| {
        update(task_of("action-chain", id, "idfoo3", task, status))
    };
    let events = vec![
        update(chain("running")),
        child("idchild1", "task_1", "running"),
        output_event("idchild1", "stdout", "line ac 4\n"),
        output_event("idchild1", "stderr", "line ac 5\n"),
        child("idchild1", "task_1", "succeeded"),
        child("idchild2", "task_2", "running"),
        output_event("idchild2", "stdout", "line ac 100\n"),
        child("idchild2", "task_2", "failed"),
        update(chain("succeeded")),
    ];
    let Some(cluster) = cluster_with(&[chain("running")], "idfoo3", events) else {
        return;
    };
    assert_eq!(
        tail(&cluster, "idfoo3"),
        "Execution idfoo3 has started.

Child execution (task=task_1) idchild1 has started.

line ac 4
line ac 5

Child execution (task=task_1) idchild1 has finished (status=succeeded).
Child execution (task=task_2) idchild2 has started.

line ac 100

Child execution (task=task_2) idchild2 has finished (status=failed).

Execution idfoo3 has completed (status=succeeded).
"
    );
    cluster.server.assert_clean();
}

/// `MOCK_LIVEACTION_4_*`: the orquesta workflow `idfoo4`.
fn flow(status: &str) -> Value {
    workflow_execution("idfoo4", "orquesta", status, None)
}

/// A task of an orquesta workflow.
fn orquesta_task(id: &str, parent: &str, task: &str, status: &str) -> EventStep {
    update(task_of("orquesta", id, parent, task, status))
}

#[test]
fn test_tail_orquesta_workflow_execution() {
    let events = vec![
        update(flow("running")),
        orquesta_task("idorquestachild1", "idfoo4", "task_1", "running"),
        output_event("idorquestachild1", "stdout", "line orquesta 4\n"),
        output_event("idorquestachild1", "stderr", "line orquesta 5\n"),
        orquesta_task("idorquestachild1", "idfoo4", "task_1", "succeeded"),
        orquesta_task("idorquestachild2", "idfoo4", "task_2", "running"),
        output_event("idorquestachild2", "stdout", "line orquesta 100\n"),
        orquesta_task("idorquestachild2", "idfoo4", "task_2", "timeout"),
        update(flow("succeeded")),
    ];
    let Some(cluster) = cluster_with(&[flow("running")], "idfoo4", events) else {
        return;
    };
    assert_eq!(
        tail(&cluster, "idfoo4"),
        "Execution idfoo4 has started.

Child execution (task=task_1) idorquestachild1 has started.

line orquesta 4
line orquesta 5

Child execution (task=task_1) idorquestachild1 has finished (status=succeeded).
Child execution (task=task_2) idorquestachild2 has started.

line orquesta 100

Child execution (task=task_2) idorquestachild2 has finished (status=timeout).

Execution idfoo4 has completed (status=succeeded).
"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_tail_double_nested_orquesta_workflow_execution() {
    let sub_workflow = |status: &str| {
        update(workflow_execution(
            "idorquestachild1",
            "orquesta",
            status,
            Some(("orquesta", "idfoo4", "task_1")),
        ))
    };
    // Another workflow (upstream's idfoo3, an action-chain) runs meanwhile: not shown.
    let other = |status: &str| update(workflow_execution("idfoo3", "action-chain", status, None));
    let other_child = |status: &str| {
        update(task_of(
            "action-chain",
            "idchild1",
            "idfoo3",
            "task_1",
            status,
        ))
    };
    let events = vec![
        update(flow("running")),
        sub_workflow("running"),
        orquesta_task(
            "idorquestachild1_1",
            "idorquestachild1",
            "task_1",
            "running",
        ),
        output_event("idorquestachild1_1", "stdout", "line orquesta 4\n"),
        output_event("idorquestachild1_1", "stderr", "line orquesta 5\n"),
        other("running"),
        other_child("running"),
        output_event("idchild1", "stdout", "line ac 4\n"),
        output_event("idchild1", "stderr", "line ac 5\n"),
        other_child("succeeded"),
        other("succeeded"),
        orquesta_task(
            "idorquestachild1_1",
            "idorquestachild1",
            "task_1",
            "succeeded",
        ),
        sub_workflow("succeeded"),
        orquesta_task("idorquestachild2", "idfoo4", "task_2", "running"),
        output_event("idorquestachild2", "stdout", "line orquesta 100\n"),
        orquesta_task("idorquestachild2", "idfoo4", "task_2", "timeout"),
        update(flow("succeeded")),
    ];
    let Some(cluster) = cluster_with(&[flow("running")], "idfoo4", events) else {
        return;
    };
    assert_eq!(
        tail(&cluster, "idfoo4"),
        "Execution idfoo4 has started.

Child execution (task=task_1) idorquestachild1 has started.

Child execution (task=task_1) idorquestachild1_1 has started.

line orquesta 4
line orquesta 5

Child execution (task=task_1) idorquestachild1_1 has finished (status=succeeded).

Child execution (task=task_1) idorquestachild1 has finished (status=succeeded).
Child execution (task=task_2) idorquestachild2 has started.

line orquesta 100

Child execution (task=task_2) idorquestachild2 has finished (status=timeout).

Execution idfoo4 has completed (status=succeeded).
"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_tail_child_execution_directly() {
    let child = task_of(
        "orquesta",
        "idorquestachild2",
        "idfoo4",
        "task_2",
        "running",
    );
    let Some(cluster) = cluster_with(&[flow("running"), child], "idorquestachild2", Vec::new())
    else {
        return;
    };
    cluster.server.world(|world| {
        world.output.insert("idorquestachild2".into(), Vec::new());
        world.streams.insert(
            "idorquestachild2".into(),
            vec![
                StreamStep::Output("stdout", "line orquesta 100\n".into()),
                StreamStep::Finish("timeout"),
            ],
        );
    });
    // [fix] The task's own output stream, and its own end (see the module's doc).
    assert_eq!(
        tail(&cluster, "idorquestachild2"),
        "line orquesta 100\n\nExecution idorquestachild2 has completed (status=timeout).\n"
    );
    cluster.server.assert_clean();
}
