//! The boot menu as a pure state machine: entries, selection, a scrolling viewport,
//! keys, the timeout countdown, and messages. It never touches hardware: the loaders feed
//! it keys and elapsed time and draw the [`Screen`] it renders (see docs/menu.md).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::console::{clip, Clock, Console, Input, Line, Painter, Screen, Style};
use crate::keys::Key;
use crate::line_edit::LineEdit;

/// Rows the menu uses around the entry list: title, blank, blank, detail, message, footer.
pub const CHROME_ROWS: usize = 6;

/// One menu entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Main text (custom title, or file name).
    pub title: String,
    /// Secondary text (size, label, firmware modes).
    pub detail: String,
    /// Why this entry cannot boot now (e.g. "no UEFI boot entry in this ISO"); Enter shows
    /// it instead of booting.
    pub blocked: Option<String>,
    /// The kernel arguments saved for it (`bootshelf options`), which the editor starts
    /// from.
    pub args: String,
}

/// Longest argument line the editor takes.
pub const MAX_ARGS_LEN: usize = 255;

/// How the menu starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Seconds before the preselected entry boots; `None`: wait for a key.
    pub timeout_secs: Option<u32>,
    /// The entry selected at start (the one-shot boot-next, else the default).
    pub preselect: Option<usize>,
    /// Whether `preselect` is a one-shot boot-next: it boots after the timeout even when
    /// the timeout is "wait for a key" (then after [`BOOT_NEXT_SECS`]).
    pub boot_next: bool,
    /// Title bar text.
    pub title: String,
}

/// Countdown for a one-shot boot-next when the menu would otherwise wait for ever.
pub const BOOT_NEXT_SECS: u32 = 5;

/// What the loader should do after a key or a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing changed.
    Idle,
    /// The screen changed: render and paint.
    Redraw,
    /// Boot entry `n` (with an ISO window).
    Boot(usize),
    /// Boot entry `n` without an ISO window (the user accepted after a refusal).
    BootWithoutWindow(usize),
    /// Boot entry `n` without its kernel options (they could not be applied to the ISO).
    BootWithoutOptions(usize),
    /// Boot entry `n` with the arguments typed in the editor ([`Menu::typed_args`]),
    /// for this boot only.
    BootWithArgs(usize),
    /// Leave the menu (UEFI: return to the firmware; BIOS: INT 18h).
    Exit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Overlay {
    None,
    /// A failure message: any key dismisses it.
    Message(String),
    /// A question: Enter does `yes` (boot `entry` without a window or without its
    /// options), Esc goes back.
    Confirm {
        entry: usize,
        text: String,
        yes: Action,
    },
    /// The one-line argument editor on `entry`: Enter boots with its line, Esc goes back.
    Edit {
        entry: usize,
        line: LineEdit,
    },
}

/// The menu state.
#[derive(Clone, Debug)]
pub struct Menu {
    items: Vec<Item>,
    selected: usize,
    top: usize,
    rows: usize,
    countdown_ms: Option<u64>,
    overlay: Overlay,
    title: String,
    /// What was typed in the editor when Enter booted with it.
    typed: Option<String>,
}

impl Menu {
    /// A menu over `items` showing `view_rows` entries at a time (see
    /// [`Menu::view_rows_for`]).
    pub fn new(items: Vec<Item>, view_rows: usize, config: &Config) -> Menu {
        let n = items.len();
        let selected = config.preselect.filter(|&p| p < n).unwrap_or(0);
        let secs = match (config.timeout_secs, config.boot_next) {
            (Some(s), _) => Some(s),
            (None, true) => Some(BOOT_NEXT_SECS),
            (None, false) => None,
        };
        let mut m = Menu {
            items,
            selected,
            top: 0,
            rows: view_rows.max(1),
            countdown_ms: if n == 0 {
                None
            } else {
                secs.map(|s| u64::from(s) * 1000)
            },
            overlay: Overlay::None,
            title: config.title.clone(),
            typed: None,
        };
        m.scroll_to_selection();
        m
    }

    /// Entry rows that fit a screen of `screen_rows` rows.
    pub fn view_rows_for(screen_rows: usize) -> usize {
        screen_rows.saturating_sub(CHROME_ROWS).max(1)
    }

    /// The entries.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Index of the selected entry.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Index of the first entry shown.
    pub fn top(&self) -> usize {
        self.top
    }

    /// Milliseconds left before the selected entry boots, if counting down.
    pub fn countdown_ms(&self) -> Option<u64> {
        self.countdown_ms
    }

    /// The message or question shown, if any.
    pub fn message(&self) -> Option<&str> {
        match &self.overlay {
            Overlay::None => None,
            Overlay::Message(m) => Some(m),
            Overlay::Confirm { text, .. } => Some(text),
            Overlay::Edit { .. } => None,
        }
    }

    /// The editor's line while it is open.
    pub fn editing(&self) -> Option<&str> {
        match &self.overlay {
            Overlay::Edit { line, .. } => Some(line.text()),
            _ => None,
        }
    }

    /// The arguments typed for [`Action::BootWithArgs`] (taken once).
    pub fn typed_args(&mut self) -> Option<String> {
        self.typed.take()
    }

    /// Show a failure (the chosen ISO could not boot) and stay in the menu; any key
    /// dismisses it. Stops the countdown.
    pub fn fail(&mut self, message: &str) {
        self.countdown_ms = None;
        self.overlay = Overlay::Message(String::from(message));
    }

    /// Ask whether to boot `entry` without an ISO window, saying why there is none.
    pub fn ask_boot_without_window(&mut self, entry: usize, reason: &str) {
        self.countdown_ms = None;
        self.overlay = Overlay::Confirm {
            entry,
            text: format!("{reason}. Enter: boot without an ISO window, Esc: back"),
            yes: Action::BootWithoutWindow(entry),
        };
    }

    /// Say that the saved kernel options could not be applied to `entry`'s ISO (why), and
    /// ask whether to boot it as it is.
    pub fn ask_boot_without_options(&mut self, entry: usize, reason: &str) {
        self.countdown_ms = None;
        self.overlay = Overlay::Confirm {
            entry,
            text: format!(
                "Arguments could not be applied to this ISO: {reason}. Enter: boot without them, Esc: back"
            ),
            yes: Action::BootWithoutOptions(entry),
        };
    }

    /// Handle a key.
    pub fn key(&mut self, key: Key) -> Action {
        let was_counting = self.countdown_ms.take().is_some();
        match core::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::Message(_) => return Action::Redraw,
            Overlay::Confirm { entry, text, yes } => {
                return match key {
                    Key::Enter => yes,
                    Key::Esc => Action::Redraw,
                    _ => {
                        self.overlay = Overlay::Confirm { entry, text, yes };
                        if was_counting {
                            Action::Redraw
                        } else {
                            Action::Idle
                        }
                    }
                };
            }
            Overlay::Edit { entry, mut line } => {
                match key {
                    Key::Enter => {
                        self.typed = Some(String::from(line.text()));
                        return Action::BootWithArgs(entry);
                    }
                    Key::Esc => return Action::Redraw,
                    _ => {}
                }
                let changed = line.key(key);
                self.overlay = Overlay::Edit { entry, line };
                return if changed {
                    Action::Redraw
                } else {
                    Action::Idle
                };
            }
            Overlay::None => {}
        }
        let n = self.items.len();
        let last = n.saturating_sub(1);
        let before = self.selected;
        match key {
            Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::Down => self.selected = (self.selected + 1).min(last),
            Key::PageUp => self.selected = self.selected.saturating_sub(self.rows),
            Key::PageDown => self.selected = (self.selected + self.rows).min(last),
            Key::Home => self.selected = 0,
            Key::End => self.selected = last,
            Key::Digit(d) => {
                let i = usize::from(d.get()) - 1;
                if i < n {
                    self.selected = i;
                }
            }
            Key::Enter => return self.choose(),
            Key::Char('e') => {
                if let Some(item) = self.items.get(self.selected) {
                    if item.blocked.is_none() {
                        self.overlay = Overlay::Edit {
                            entry: self.selected,
                            line: LineEdit::new(&item.args, MAX_ARGS_LEN),
                        };
                        return Action::Redraw;
                    }
                }
            }
            Key::Esc => {
                return if was_counting {
                    Action::Redraw
                } else {
                    Action::Exit
                }
            }
            Key::Char(_) | Key::Backspace | Key::Left | Key::Right | Key::Delete | Key::Other => {}
        }
        self.scroll_to_selection();
        if before != self.selected || was_counting {
            Action::Redraw
        } else {
            Action::Idle
        }
    }

    /// Let `elapsed_ms` pass: counts down, and boots the selected entry at zero.
    pub fn tick(&mut self, elapsed_ms: u64) -> Action {
        let Some(left) = self.countdown_ms else {
            return Action::Idle;
        };
        let now = left.saturating_sub(elapsed_ms);
        if now == 0 {
            self.countdown_ms = None;
            return self.choose();
        }
        self.countdown_ms = Some(now);
        if left.div_ceil(1000) != now.div_ceil(1000) {
            Action::Redraw
        } else {
            Action::Idle
        }
    }

    fn choose(&mut self) -> Action {
        match self.items.get(self.selected) {
            None => Action::Idle,
            Some(Item {
                blocked: Some(why), ..
            }) => {
                self.overlay = Overlay::Message(why.clone());
                Action::Redraw
            }
            Some(_) => Action::Boot(self.selected),
        }
    }

    fn scroll_to_selection(&mut self) {
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + self.rows {
            self.top = self.selected + 1 - self.rows;
        }
        let max_top = self.items.len().saturating_sub(self.rows);
        self.top = self.top.min(max_top);
    }

    /// The editor's row: `Arguments: ` and the part of the line around the cursor, the
    /// cursor's cell marked. The last column stays free (writing it scrolls some consoles).
    fn editor_line(&self, width: usize) -> Line {
        const PROMPT: &str = "Arguments: ";
        let Overlay::Edit { line, .. } = &self.overlay else {
            return Line::blank();
        };
        let room = width.saturating_sub(PROMPT.len() + 1);
        let (shown, cursor) = line.view(room);
        Line {
            text: clip(&format!("{PROMPT}{shown}"), width),
            style: Style::Editor {
                cursor: PROMPT.len() + cursor,
            },
        }
    }

    /// The screen for a console of `cols` x `rows` characters: title, entries (numbered,
    /// detail right-aligned), the selected entry's detail, message, footer.
    pub fn render(&self, cols: usize, rows: usize) -> Screen {
        let width = cols.saturating_sub(1).max(1);
        let mut lines = Vec::with_capacity(rows);
        let n = self.items.len();
        let header = if n == 0 {
            self.title.clone()
        } else {
            format!("{}  ({} of {})", self.title, self.selected + 1, n)
        };
        lines.push(Line {
            text: clip(&header, width),
            style: Style::Header,
        });
        lines.push(Line::blank());
        let view = Menu::view_rows_for(rows).min(self.rows);
        for i in self.top..self.top + view {
            let line = match self.items.get(i) {
                Some(item) => Line {
                    text: entry_text(i, item, width),
                    style: if i == self.selected {
                        Style::Selected
                    } else if item.blocked.is_some() {
                        Style::Disabled
                    } else {
                        Style::Normal
                    },
                },
                None if i == 0 => Line {
                    text: clip("  No ISO files found on the stick.", width),
                    style: Style::Normal,
                },
                None => Line::blank(),
            };
            lines.push(line);
        }
        lines.push(Line::blank());
        let detail = self
            .items
            .get(self.selected)
            .map(|it| match &it.blocked {
                Some(why) => format!("  {}: {}", it.detail, why),
                None => format!("  {}", it.detail),
            })
            .unwrap_or_default();
        lines.push(Line {
            text: clip(&detail, width),
            style: Style::Normal,
        });
        lines.push(match (self.message(), self.editing()) {
            (Some(m), _) => Line {
                text: clip(m, width),
                style: Style::Alert,
            },
            (None, Some(_)) => self.editor_line(width),
            (None, None) => Line::blank(),
        });
        let footer = match (self.countdown_ms, self.items.get(self.selected)) {
            _ if self.editing().is_some() => {
                String::from("Enter: boot with these arguments, this boot only   Esc: back")
            }
            (Some(ms), Some(item)) => format!(
                "Booting \"{}\" in {} s; any key stops the countdown.",
                item.title,
                ms.div_ceil(1000)
            ),
            _ => String::from(
                "Up/Down/PgUp/PgDn/Home/End/1-9: choose  Enter: boot  e: arguments  Esc: leave",
            ),
        };
        lines.push(Line {
            text: clip(&footer, width),
            style: Style::Footer,
        });
        lines.truncate(rows);
        while lines.len() < rows {
            lines.push(Line::blank());
        }
        Screen { lines }
    }
}

fn entry_text(i: usize, item: &Item, width: usize) -> String {
    let left = format!("{:>4}  {}", i + 1, item.title);
    let right = &item.detail;
    let lw = left.chars().count();
    let rw = right.chars().count();
    if lw + rw + 2 <= width {
        let mut s = left;
        for _ in 0..width - lw - rw {
            s.push(' ');
        }
        s.push_str(right);
        s
    } else {
        clip(&left, width)
    }
}

/// Run the menu until the user (or the countdown) picks an entry or leaves: draw, read
/// keys, count down. `C`, `I`, `T` are the loader's console, keys and clock.
pub fn run<C: Console + ?Sized, I: Input + ?Sized, T: Clock + ?Sized>(
    menu: &mut Menu,
    con: &mut C,
    input: &mut I,
    clock: &mut T,
    painter: &mut Painter,
) -> Action {
    let (cols, rows) = con.size();
    painter.paint(con, &menu.render(cols, rows));
    let mut last = clock.now_ms();
    loop {
        let mut action = match input.read_key() {
            Some(k) => menu.key(k),
            None => Action::Idle,
        };
        let now = clock.now_ms();
        let elapsed = now.saturating_sub(last);
        last = now;
        if matches!(action, Action::Idle | Action::Redraw) {
            let t = menu.tick(elapsed);
            if t != Action::Idle {
                action = t;
            }
        }
        match action {
            Action::Idle => {}
            Action::Redraw => {
                painter.paint(con, &menu.render(cols, rows));
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Digit;

    fn items(n: usize) -> Vec<Item> {
        (0..n)
            .map(|i| Item {
                title: format!("iso{i}"),
                detail: format!("{i} MiB"),
                blocked: (i == 3).then(|| String::from("no UEFI boot entry in this ISO")),
                args: if i == 1 {
                    String::from("quiet")
                } else {
                    String::new()
                },
            })
            .collect()
    }

    fn cfg(timeout: Option<u32>, pre: Option<usize>) -> Config {
        Config {
            timeout_secs: timeout,
            preselect: pre,
            boot_next: false,
            title: "bootshelf".into(),
        }
    }

    fn digit(n: u8) -> Key {
        Key::Digit(Digit::new(n).unwrap())
    }

    #[test]
    fn the_editor_starts_from_the_saved_arguments_and_boots_with_what_was_typed() {
        let m = Menu::new(items(5), 10, &cfg(None, Some(1)));
        let footer = |m: &Menu| {
            m.render(80, 20)
                .lines
                .iter()
                .rev()
                .find(|l| l.style == Style::Footer)
                .map(|l| l.text.clone())
                .unwrap()
        };
        assert!(footer(&m).ends_with("e: arguments  Esc: leave"));
        let mut m = Menu::new(items(5), 10, &cfg(Some(5), Some(1)));
        assert_eq!(m.key(Key::Char('e')), Action::Redraw);
        assert_eq!(m.editing(), Some("quiet"));
        assert_eq!(m.countdown_ms(), None);
        for _ in 0..5 {
            m.key(Key::Backspace);
        }
        for k in [
            Key::Char('a'),
            Key::Char('='),
            Key::Digit(Digit::new(3).unwrap()),
        ] {
            assert_eq!(m.key(k), Action::Redraw);
        }
        let screen = m.render(80, 20);
        assert!(screen.lines.contains(&Line {
            text: "Arguments: a=3".into(),
            style: Style::Editor { cursor: 14 },
        }));
        // The cursor moves; typing goes where it is.
        m.key(Key::Home);
        assert_eq!(m.key(Key::Right), Action::Redraw);
        m.key(Key::Char('b'));
        m.key(Key::Delete);
        assert_eq!(m.editing(), Some("ab3"));
        assert_eq!(m.key(Key::Other), Action::Idle);
        assert!(footer(&m).contains("this boot only"));
        assert_eq!(m.key(Key::Enter), Action::BootWithArgs(1));
        assert_eq!(m.typed_args().as_deref(), Some("ab3"));
        assert_eq!(m.typed_args(), None);
        // Esc leaves the editor without booting; a blocked entry has none.
        m.key(Key::Char('e'));
        assert_eq!(m.key(Key::Esc), Action::Redraw);
        assert_eq!(m.editing(), None);
        m.key(Key::Digit(Digit::new(4).unwrap()));
        m.key(Key::Char('e'));
        assert_eq!(m.editing(), None);
    }

    #[test]
    fn navigation_and_scrolling() {
        let mut m = Menu::new(items(30), 10, &cfg(None, None));
        assert_eq!((m.selected(), m.top()), (0, 0));
        assert_eq!(m.key(Key::Up), Action::Idle);
        for _ in 0..10 {
            m.key(Key::Down);
        }
        assert_eq!((m.selected(), m.top()), (10, 1));
        assert_eq!(m.key(Key::PageDown), Action::Redraw);
        assert_eq!((m.selected(), m.top()), (20, 11));
        m.key(Key::End);
        assert_eq!((m.selected(), m.top()), (29, 20));
        assert_eq!(m.key(Key::Down), Action::Idle);
        m.key(Key::PageUp);
        assert_eq!((m.selected(), m.top()), (19, 19));
        m.key(Key::Home);
        assert_eq!((m.selected(), m.top()), (0, 0));
        m.key(digit(9));
        assert_eq!(m.selected(), 8);
        let mut small = Menu::new(items(2), 10, &cfg(None, None));
        assert_eq!(small.key(digit(5)), Action::Idle);
        assert_eq!(small.selected(), 0);
        assert_eq!(small.key(Key::PageDown), Action::Redraw);
        assert_eq!(small.selected(), 1);
    }

    #[test]
    fn enter_boots_or_explains() {
        let mut m = Menu::new(items(5), 10, &cfg(None, Some(2)));
        assert_eq!(m.key(Key::Enter), Action::Boot(2));
        m.key(Key::Down);
        assert_eq!(m.key(Key::Enter), Action::Redraw);
        assert_eq!(m.message(), Some("no UEFI boot entry in this ISO"));
        // Any key dismisses the message and does nothing else.
        assert_eq!(m.key(Key::Down), Action::Redraw);
        assert_eq!((m.message(), m.selected()), (None, 3));
        m.fail("the loaded image returned (status 0x8000000000000001)");
        assert!(m
            .render(80, 25)
            .plain()
            .contains("the loaded image returned"));
        m.key(Key::Enter);
        assert_eq!(m.message(), None);
        assert_eq!(m.key(Key::Esc), Action::Exit);
    }

    #[test]
    fn countdown_boots_default_and_any_key_cancels() {
        let mut m = Menu::new(items(5), 10, &cfg(Some(3), Some(4)));
        assert_eq!(m.selected(), 4);
        assert_eq!(m.tick(500), Action::Idle); // 3 s -> 2.5 s: still shows 3
        assert_eq!(m.countdown_ms(), Some(2500));
        assert!(m.render(80, 25).plain().contains("in 3 s"));
        assert_eq!(m.tick(400), Action::Idle);
        assert_eq!(m.tick(2000), Action::Redraw);
        assert_eq!(m.tick(100), Action::Boot(4));
        assert_eq!(m.countdown_ms(), None);

        let mut m = Menu::new(items(5), 10, &cfg(Some(3), None));
        assert_eq!(m.key(Key::Other), Action::Redraw);
        assert_eq!(m.countdown_ms(), None);
        assert_eq!(m.tick(10_000), Action::Idle);
        // Esc while counting only stops the countdown.
        let mut m = Menu::new(items(5), 10, &cfg(Some(3), None));
        assert_eq!(m.key(Key::Esc), Action::Redraw);
        assert_eq!(m.key(Key::Esc), Action::Exit);
        // Timeout 0 boots at the first tick.
        let mut m = Menu::new(items(5), 10, &cfg(Some(0), Some(1)));
        assert_eq!(m.tick(0), Action::Boot(1));
        // A blocked default shows why instead of booting.
        let mut m = Menu::new(items(5), 10, &cfg(Some(1), Some(3)));
        assert_eq!(m.tick(1000), Action::Redraw);
        assert!(m.message().is_some());
    }

    #[test]
    fn boot_next_counts_down_even_without_timeout() {
        let mut c = cfg(None, Some(1));
        c.boot_next = true;
        let mut m = Menu::new(items(3), 10, &c);
        assert_eq!(m.countdown_ms(), Some(u64::from(BOOT_NEXT_SECS) * 1000));
        assert_eq!(m.tick(u64::from(BOOT_NEXT_SECS) * 1000), Action::Boot(1));
        let m = Menu::new(items(3), 10, &cfg(None, Some(7)));
        assert_eq!((m.selected(), m.countdown_ms()), (0, None));
    }

    #[test]
    fn window_question() {
        let mut m = Menu::new(items(3), 10, &cfg(None, None));
        m.ask_boot_without_window(1, "the ISO is stored in 3 pieces");
        assert!(m
            .message()
            .unwrap()
            .starts_with("the ISO is stored in 3 pieces."));
        assert_eq!(m.key(Key::Down), Action::Idle);
        assert_eq!(m.key(Key::Enter), Action::BootWithoutWindow(1));
        m.ask_boot_without_window(1, "x");
        assert_eq!(m.key(Key::Esc), Action::Redraw);
        assert_eq!(m.message(), None);
    }

    #[test]
    fn render_layout() {
        let mut m = Menu::new(items(30), Menu::view_rows_for(12), &cfg(Some(5), Some(0)));
        let s = m.render(40, 12);
        assert_eq!(s.lines.len(), 12);
        assert!(s.lines.iter().all(|l| l.text.chars().count() <= 39));
        assert_eq!(s.lines[0].text, "bootshelf  (1 of 30)");
        assert_eq!(s.lines[2].style, Style::Selected);
        assert_eq!(s.lines[2].text, format!("{:<34}0 MiB", "   1  iso0"));
        assert_eq!(s.lines[5].style, Style::Disabled);
        assert!(s.lines[11].text.starts_with("Booting \"iso0\" in 5 s"));
        m.key(Key::End);
        let s = m.render(40, 12);
        assert!(s.lines[7].text.starts_with("  30  iso29"), "{}", s.plain());
        assert_eq!(s.lines[7].style, Style::Selected);
        assert!(s.lines[11].text.starts_with("Up/Down"));
        let empty = Menu::new(Vec::new(), 5, &cfg(Some(5), None));
        assert_eq!(empty.countdown_ms(), None);
        assert!(empty.render(80, 25).plain().contains("No ISO files found"));
    }

    #[test]
    fn random_keys_keep_the_selection_visible() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [0usize, 1, 2, 9, 10, 11, 57] {
            for rows in [1usize, 3, 10, 19] {
                let mut m = Menu::new(items(n), rows, &cfg(Some(2), Some(n / 2)));
                for _ in 0..2000 {
                    let k = match next() % 12 {
                        0 => Key::Up,
                        1 => Key::Down,
                        2 => Key::PageUp,
                        3 => Key::PageDown,
                        4 => Key::Home,
                        5 => Key::End,
                        6 => digit((next() % 9 + 1) as u8),
                        7 => Key::Enter,
                        8 => Key::Esc,
                        9 => Key::Other,
                        _ => {
                            m.tick(next() % 700);
                            continue;
                        }
                    };
                    let a = m.key(k);
                    if let Action::Boot(i) | Action::BootWithoutWindow(i) = a {
                        assert!(i < n && m.items()[i].blocked.is_none());
                    }
                    if n > 0 {
                        assert!(m.selected() < n);
                        assert!(m.top() <= m.selected() && m.selected() < m.top() + rows);
                    }
                    let s = m.render(40, rows + CHROME_ROWS);
                    assert_eq!(s.lines.len(), rows + CHROME_ROWS);
                }
            }
        }
    }

    struct FakeCon(Vec<String>);
    impl Console for FakeCon {
        fn size(&self) -> (usize, usize) {
            (80, 25)
        }
        fn write_line(&mut self, row: usize, line: &Line) {
            self.0.push(format!("{row}:{}", line.text));
        }
    }
    struct Keys(Vec<Option<Key>>);
    impl Input for Keys {
        fn read_key(&mut self) -> Option<Key> {
            if self.0.is_empty() {
                None
            } else {
                self.0.remove(0)
            }
        }
    }
    struct FakeClock(u64);
    impl Clock for FakeClock {
        fn now_ms(&mut self) -> u64 {
            self.0 += 100;
            self.0
        }
    }

    #[test]
    fn run_loop_selects_by_key_and_by_timeout() {
        let mut m = Menu::new(items(5), 19, &cfg(Some(10), None));
        let mut con = FakeCon(Vec::new());
        let mut keys = Keys(vec![
            None,
            Some(Key::Down),
            Some(Key::Down),
            Some(Key::Enter),
        ]);
        let a = run(
            &mut m,
            &mut con,
            &mut keys,
            &mut FakeClock(0),
            &mut Painter::new(),
        );
        assert_eq!(a, Action::Boot(2));
        assert!(con
            .0
            .iter()
            .any(|l| l.starts_with("2:") && l.contains("iso0")));

        let mut m = Menu::new(items(5), 19, &cfg(Some(2), Some(1)));
        let a = run(
            &mut m,
            &mut FakeCon(Vec::new()),
            &mut Keys(Vec::new()),
            &mut FakeClock(0),
            &mut Painter::new(),
        );
        assert_eq!(a, Action::Boot(1));
    }
}
