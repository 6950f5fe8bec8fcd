// The join-by-link page, `/#/join/<code>` (docs/protocol.md, "Joining by link"). Signed out,
// the sign-in form says why one should sign in, and the link is kept in the address bar, so
// that after logging in or registering the person is back here. Signed in, a confirmation
// joins with POST /groups/join and opens the group; a dead or refused code shows the server's
// reason. Invite links are made in the group's settings (group-settings-view.js).

import { app, explain, toast } from './app.js';
import { $ } from './dom.js';

const JOIN_ROUTE = /^#\/join\/([^/?#]+)$/;

function joinCode() {
  const m = JOIN_ROUTE.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

// The link is used (or declined): the address goes back to the client's own.
function forget() {
  if (joinCode() !== null) history.replaceState(null, '', location.pathname + location.search);
}

// Shows what the address asks for; main.js calls it again once a session has started.
export function routeJoin() {
  const code = joinCode();
  $('auth-join').hidden = code === null || !!app.store;
  if (code === null) {
    if ($('join-dialog').open) $('join-dialog').close();
    return;
  }
  if (!app.store) return;
  $('join-error').textContent = '';
  $('join-confirm').disabled = false;
  if (!$('join-dialog').open) $('join-dialog').showModal();
}

async function confirmJoin() {
  const code = joinCode();
  const store = app.store;
  if (code === null || !store) return;
  const button = $('join-confirm');
  button.disabled = true;
  $('join-error').textContent = '';
  try {
    const r = await app.api.joinByInvite(code);
    await store.loadConversations();
    forget();
    $('join-dialog').close();
    toast(`You joined “${r.group.name}”.`);
    app.selectSide('side-chats');
    app.openConversation(r.group.conversation_id);
  } catch (e) {
    $('join-error').textContent = explain(e);
    button.disabled = false;
  }
}

export function setupJoin() {
  $('join-confirm').addEventListener('click', confirmJoin);
  $('join-cancel').addEventListener('click', () => $('join-dialog').close());
  $('join-dialog').addEventListener('close', forget);
  window.addEventListener('hashchange', routeJoin);
  routeJoin();
}
