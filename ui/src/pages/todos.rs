use latchkey_ipc::{Todo, TodoChange};
use serde::Serialize;
use sycamore::futures::spawn_local_scoped;
use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::tauri::invoke;

#[derive(Serialize)]
struct AddTodo {
    title: String,
}

#[derive(Serialize)]
struct UpdateTodo {
    id: String,
    change: TodoChange,
}

#[derive(Serialize)]
struct DeleteTodo {
    id: String,
}

/// The list and what happened to it. Changes show at once (optimistic) and are rolled back,
/// with a sentence saying so, when the API refuses them.
#[derive(Clone, Copy)]
struct Todos {
    list: Signal<Vec<Todo>>,
    loaded: Signal<bool>,
    notice: Signal<Option<String>>,
    pending: Signal<u32>,
    /// The todo being renamed, and the title typed so far. Kept here, not in the item: an
    /// item's view is a plain function of its key, rebuilt whenever the key changes.
    editing: Signal<Option<String>>,
    rename_draft: Signal<String>,
    /// The page's scope. Requests are owned by it, not by the item that started them: an
    /// optimistic change re-keys (and so disposes) that item before the answer arrives.
    scope: NodeHandle,
}

impl Todos {
    fn spawn(self, task: impl std::future::Future<Output = ()> + 'static) {
        self.scope.run_in(move || spawn_local_scoped(task));
    }

    fn failed(&self, what: String, message: String) {
        self.notice.set(Some(format!(
            "{what} did not work, so it was undone. {message}"
        )));
    }

    fn add(self, title: String) {
        let title = title.trim().to_owned();
        if title.is_empty() {
            return;
        }
        self.pending.update(|n| *n += 1);
        let temporary = format!("pending-{}", self.pending.get());
        self.list.update(|list| {
            list.push(Todo {
                id: temporary.clone(),
                title: title.clone(),
                done: false,
            })
        });
        self.notice.set(None);
        self.spawn(async move {
            let answer = invoke::<Todo>(
                "add_todo",
                AddTodo {
                    title: title.clone(),
                },
            )
            .await;
            self.list.update(|list| match answer {
                Ok(saved) => {
                    if let Some(todo) = list.iter_mut().find(|t| t.id == temporary) {
                        *todo = saved;
                    }
                }
                Err(message) => {
                    list.retain(|t| t.id != temporary);
                    self.failed(format!("Adding “{title}”"), message);
                }
            });
        });
    }

    fn change(self, id: String, change: TodoChange, what: String) {
        let Some(before) = self.list.with(|l| l.iter().find(|t| t.id == id).cloned()) else {
            return;
        };
        self.list.update(|list| {
            if let Some(todo) = list.iter_mut().find(|t| t.id == id) {
                if let Some(title) = &change.title {
                    todo.title = title.clone();
                }
                if let Some(done) = change.done {
                    todo.done = done;
                }
            }
        });
        self.notice.set(None);
        self.spawn(async move {
            let answer = invoke::<Todo>(
                "update_todo",
                UpdateTodo {
                    id: id.clone(),
                    change,
                },
            )
            .await;
            self.list.update(|list| {
                if let Some(todo) = list.iter_mut().find(|t| t.id == id) {
                    match answer {
                        Ok(saved) => *todo = saved,
                        Err(message) => {
                            *todo = before;
                            self.failed(what, message);
                        }
                    }
                }
            });
        });
    }

    fn delete(self, id: String) {
        let Some((index, before)) = self
            .list
            .with(|l| l.iter().position(|t| t.id == id).map(|i| (i, l[i].clone())))
        else {
            return;
        };
        self.list.update(|list| list.retain(|t| t.id != id));
        self.notice.set(None);
        self.spawn(async move {
            if let Err(message) = invoke::<()>("delete_todo", DeleteTodo { id }).await {
                let title = before.title.clone();
                self.list.update(|list| {
                    let at = index.min(list.len());
                    list.insert(at, before);
                });
                self.failed(format!("Deleting “{title}”"), message);
            }
        });
    }
}

#[component]
pub fn TodosPage() -> View {
    let todos = Todos {
        list: create_signal(Vec::new()),
        loaded: create_signal(false),
        notice: create_signal(None),
        pending: create_signal(0),
        editing: create_signal(None),
        rename_draft: create_signal(String::new()),
        scope: use_current_scope(),
    };
    let draft = create_signal(String::new());
    spawn_local_scoped(async move {
        match invoke::<Vec<Todo>>("todos", ()).await {
            Ok(list) => todos.list.set(list),
            Err(message) => todos
                .notice
                .set(Some(format!("Your todos could not be loaded. {message}"))),
        }
        todos.loaded.set(true);
    });
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        todos.add(draft.get_clone());
        draft.set(String::new());
    };
    let remaining = move || todos.list.with(|l| l.iter().filter(|t| !t.done).count());
    view! {
        section(class="card") {
            h2 { "Todos" }
            p(class="muted") {
                "Kept by the sample API under your account; nobody else sees them. "
                (remaining()) " left to do."
            }
            form(class="todo-new", on:submit=submit) {
                input(id="todo-new", r#type="text", maxlength="200", aria-label="New todo", placeholder="What needs doing?", bind:value=draft)
                button(id="todo-add", class="primary", r#type="submit") { "Add" }
            }
            (match todos.notice.get_clone() {
                Some(text) => view! { div(id="todo-notice", class="notice error") { (text) } },
                None => view! {},
            })
            (if todos.loaded.get() && todos.list.with(Vec::is_empty) {
                view! { p(id="todos-empty", class="muted") { "Nothing to do yet. Add your first todo above." } }
            } else {
                view! {}
            })
            ul(id="todo-list", class="todos") {
                Keyed(
                    list=move || {
                        let editing = todos.editing.get_clone();
                        todos.list.with(|list| {
                            list.iter()
                                .map(|t| (t.clone(), editing.as_deref() == Some(t.id.as_str())))
                                .collect::<Vec<_>>()
                        })
                    },
                    view=move |(todo, editing)| view! { TodoItem(todo=todo, editing=editing, todos=todos) },
                    key=|(todo, editing)| (todo.id.clone(), todo.title.clone(), todo.done, *editing),
                )
            }
        }
    }
}

/// One todo. Its view has no state of its own: everything it shows is in its key.
#[component(inline_props)]
fn TodoItem(todo: Todo, editing: bool, todos: Todos) -> View {
    let pending = todo.id.starts_with("pending-");
    let Todo { id, title, done } = todo;
    let toggle = {
        let (id, title) = (id.clone(), title.clone());
        move |_| {
            let what = if done {
                format!("Reopening “{title}”")
            } else {
                format!("Ticking off “{title}”")
            };
            todos.change(
                id.clone(),
                TodoChange {
                    done: Some(!done),
                    ..TodoChange::default()
                },
                what,
            );
        }
    };
    let class = if done { "todo done" } else { "todo" };
    let label = title.clone();
    let toggle_name = format!("Done: {title}");
    let body = if editing {
        let save = {
            let (id, title) = (id.clone(), title.clone());
            move |event: web_sys::SubmitEvent| {
                event.prevent_default();
                todos.editing.set(None);
                let new_title = todos.rename_draft.get_clone().trim().to_owned();
                if new_title.is_empty() || new_title == title {
                    return;
                }
                todos.change(
                    id.clone(),
                    TodoChange {
                        title: Some(new_title),
                        ..TodoChange::default()
                    },
                    format!("Renaming “{title}”"),
                );
            }
        };
        let typed = move |event: web_sys::Event| {
            if let Some(input) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                todos.rename_draft.set(input.value());
            }
        };
        view! {
            form(class="todo-edit", on:submit=save) {
                input(class="todo-title-input", r#type="text", maxlength="200", aria-label="New title", value=title.clone(), on:input=typed)
                button(class="todo-save secondary", r#type="submit") { "Save" }
                button(class="todo-cancel secondary", r#type="button", on:click=move |_| todos.editing.set(None)) { "Cancel" }
            }
        }
    } else {
        let rename = {
            let (id, title) = (id.clone(), title.clone());
            move |_| {
                todos.rename_draft.set(title.clone());
                todos.editing.set(Some(id.clone()));
            }
        };
        let delete = {
            let id = id.clone();
            move |_| todos.delete(id.clone())
        };
        let (rename_name, delete_name) = (format!("Rename {title}"), format!("Delete {title}"));
        view! {
            span(class="todo-title") { (title.clone()) }
            button(class="todo-rename secondary", aria-label=rename_name, disabled=pending, on:click=rename) { "Rename" }
            button(class="todo-delete danger", aria-label=delete_name, disabled=pending, on:click=delete) { "Delete" }
        }
    };
    view! {
        li(class=class, data-title=label) {
            input(class="todo-toggle", r#type="checkbox", aria-label=toggle_name, checked=done, disabled=pending || editing, on:change=toggle)
            (body)
        }
    }
}
