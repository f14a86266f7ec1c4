//! Points inside long operations where a unit test acts while the operation is in progress (test
//! builds only). A test sets a hook on its own thread; the operation calls it on reaching a point
//! on that thread, so tests running in parallel never see each other's hooks.

use std::cell::RefCell;

/// Where an operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Point {
    /// A checkpoint has pinned its state and is about to pack and write its values.
    Pack,
    /// A read whose cost grows with its answer is computing it.
    Scan,
}

type Hook = Box<dyn FnMut(Point)>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Runs `body` with `hook` called at every point this thread reaches meanwhile.
pub(crate) fn with<T>(hook: impl FnMut(Point) + 'static, body: impl FnOnce() -> T) -> T {
    HOOK.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    let out = body();
    HOOK.with(|h| *h.borrow_mut() = None);
    out
}

/// Calls this thread's hook, if one is set. The hook is taken out while it runs, so a point it
/// reaches itself is passed over.
pub(crate) fn reached(point: Point) {
    let Some(mut hook) = HOOK.with(|h| h.borrow_mut().take()) else {
        return;
    };
    hook(point);
    HOOK.with(|h| *h.borrow_mut() = Some(hook));
}
