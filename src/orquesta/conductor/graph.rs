//! The workflow as a graph (`orquesta/graphing.py`, `composition.py`): one edge per
//! transition of a task's `next`, with its criteria, and the tasks' retry specs.

use super::*;

/// A transition of the graph (`networkx` edge: from, to, key) with its criteria and the
/// index of the `next` entry it comes from.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    pub(super) from: String,
    pub(super) to: String,
    pub(super) key: usize,
    pub(super) when: Option<String>,
    pub(super) reference: usize,
}

impl Edge {
    /// `task2__t0`: the id of this transition in a task state's `next`.
    pub(super) fn id(&self) -> String {
        format!("{}__t{}", self.to, self.key)
    }
    /// The back reference staged on the next task: `task1__t0`.
    pub(super) fn backref(&self) -> String {
        format!("{}__t{}", self.from, self.key)
    }
}

/// The retry criteria of a task (`graph.get_task_retry_spec`).
#[derive(Debug, Clone)]
pub(super) struct Retry {
    pub(super) when: Option<String>,
    pub(super) count: Value,
    pub(super) delay: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Graph {
    pub(super) edges: Vec<Edge>,
    pub(super) retry: HashMap<String, Retry>,
}

impl Graph {
    pub(super) fn compose(spec: &WorkflowSpec) -> Graph {
        let mut graph = Graph::default();
        for task in &spec.tasks {
            if let Some(retry) = &task.retry {
                graph.retry.insert(
                    task.name.clone(),
                    Retry {
                        when: retry.when.clone(),
                        count: retry.count.clone(),
                        delay: retry.delay.clone(),
                    },
                );
            }
            for (to, when, reference) in spec.next_tasks(&task.name) {
                if to == "retry" {
                    graph.retry.insert(
                        task.name.clone(),
                        Retry {
                            when: Some(when.unwrap_or_else(|| "<% completed() %>".into())),
                            count: json!(3),
                            delay: None,
                        },
                    );
                    continue;
                }
                let same: Vec<&Edge> = graph
                    .edges
                    .iter()
                    .filter(|e| e.from == task.name && e.to == to)
                    .collect();
                if same.iter().any(|e| e.reference == reference) {
                    continue;
                }
                let key = same.len();
                graph.edges.push(Edge {
                    from: task.name.clone(),
                    to,
                    key,
                    when,
                    reference,
                });
            }
        }
        graph
    }

    pub(super) fn next(&self, task: &str) -> Vec<&Edge> {
        let mut out: Vec<&Edge> = self.edges.iter().filter(|e| e.from == task).collect();
        out.sort_by(|a, b| a.to.cmp(&b.to));
        out
    }

    pub(super) fn prev(&self, task: &str) -> Vec<&Edge> {
        self.edges.iter().filter(|e| e.to == task).collect()
    }
}
