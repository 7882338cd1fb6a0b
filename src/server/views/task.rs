//! `GET /v1/task`: the migration task and (unless asked not to) its next step's conditions as they hold now (also
//! the answer of every change to the task), and the task in one line for `/healthz` and `GET /v1/topics`.

use crate::control::wire::{TaskDoc, TaskView};
use crate::server::app::App;
use crate::server::error::ApiError;
use crate::server::moves::steps::conditions;

/// `GET /v1/task`: the task and (with `checks`) its next step's conditions as they hold now.
pub(crate) async fn view(app: &App, checks: bool) -> Result<TaskView, ApiError> {
    let task = app.state.task().ok_or_else(ApiError::no_task)?;
    if !checks {
        return Ok(TaskView {
            next: task.step.next(),
            task,
            checks: Vec::new(),
        });
    }
    Ok(view_of(app, task).await)
}

/// `task` with its next step's conditions as they hold now.
pub(crate) async fn view_of(app: &App, task: TaskDoc) -> TaskView {
    let next = task.step.next();
    let checks = match next {
        Some(to) => conditions(app, to).await.0,
        None => Vec::new(),
    };
    TaskView { task, next, checks }
}

/// The task in one line for `/healthz` and `GET /v1/topics`: name, step, paused (`null` without a task).
pub(crate) fn task_summary(app: &App) -> serde_json::Value {
    app.state.task().map_or(
        serde_json::Value::Null,
        |t| serde_json::json!({ "name": t.name, "step": t.step, "paused": t.paused }),
    )
}
