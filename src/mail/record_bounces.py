#!/usr/bin/python3
# mailinfra: the gateway's list of hard bounces. Postfix's delivery log lines come in on
# stdin (`record`: a systemd timer feeds the journal since the last run); every permanent
# failure (dsn=5.x.x, status=bounced) becomes one event in the CloudWatch Logs group
# LOG_GROUP, which outlives the instance, so `mailinfra bounces` can list the addresses to
# drop. With SUPPRESS, each such address is also refused at RCPT TO (a Postfix access table),
# and `restore` rebuilds that table from the log group at boot, so a replacement refuses them
# too. Events that cannot be sent wait in STATE_DIR/bounces.pending for the next run.
import json
import os
import re
import subprocess
import sys
import time

REGION = '{{region}}'
LOG_GROUP = '{{log_group}}'
MAP = '{{map_path}}'
SUPPRESS = '{{suppress}}' == 'yes'
STATE_DIR = os.environ.get('MAILINFRA_STATE_DIR', '{{state_dir}}')
PENDING = os.path.join(STATE_DIR, 'bounces.pending')

# "3F2A1C: to=<x@example.org>, relay=..., dsn=5.1.1, status=bounced (host ... said: 550 ...)"
BOUNCED = re.compile(
    r'(?:(?P<queue>[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}):\s+)?'
    r'to=<(?P<rcpt>[^>]+)>.*?\bdsn=(?P<dsn>5\.\d{1,3}\.\d{1,3}), status=bounced \((?P<reason>.*)\)\s*$'
)


def aws(*args):
    return subprocess.run(['aws', '--region', REGION, *args], capture_output=True, text=True)


def printable(text, limit=200):
    """The reason as Postfix may put it in a reply: printable ASCII, one line, bounded."""
    text = ''.join(c if 32 <= ord(c) < 127 else ' ' for c in text)
    return ' '.join(text.split())[:limit]


def stream():
    try:
        machine = open('/etc/machine-id').read().strip()
    except OSError:
        machine = 'unknown'
    return f'{os.uname().nodename}-{machine}'


def rebuild():
    """postmap, then a reload: an smtpd process already waiting for its next client would
    otherwise answer it from the table it opened."""
    subprocess.run(['postmap', MAP], check=False)
    subprocess.run(['postfix', 'reload'], check=False, capture_output=True)


def suppress(events):
    """Adds the recipients to the access table Postfix consults at RCPT TO, and rebuilds it."""
    if not SUPPRESS or not events:
        return
    known = set()
    if os.path.exists(MAP):
        known = {line.split(None, 1)[0] for line in open(MAP) if line.strip()}
    with open(MAP, 'a') as table:
        for e in events:
            rcpt = e['recipient'].lower()
            if rcpt in known:
                continue
            known.add(rcpt)
            table.write(
                f"{rcpt} REJECT {e['dsn']} <{rcpt}> bounced permanently at {e['at']}: "
                f"{printable(e['reason'], 120)}; remove it from your list (mailinfra bounces)\n"
            )
    rebuild()


def send(events):
    """Sends events to the log group; what fails waits in PENDING."""
    if os.path.exists(PENDING):
        events = [json.loads(l) for l in open(PENDING) if l.strip()] + events
    if not events:
        return True
    name = stream()
    made = aws('logs', 'create-log-stream', '--log-group-name', LOG_GROUP, '--log-stream-name', name)
    if made.returncode != 0 and 'ResourceAlreadyExists' not in made.stderr:
        return keep(events, made.stderr)
    batch = [{'timestamp': e['ms'], 'message': json.dumps({k: v for k, v in e.items() if k != 'ms'})}
             for e in sorted(events, key=lambda e: e['ms'])]
    put = aws('logs', 'put-log-events', '--log-group-name', LOG_GROUP, '--log-stream-name', name,
              '--log-events', json.dumps(batch))
    if put.returncode != 0:
        return keep(events, put.stderr)
    if os.path.exists(PENDING):
        os.remove(PENDING)
    print(f'mailinfra: {len(events)} hard bounce(s) recorded in {LOG_GROUP}')
    return True


def keep(events, error):
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(PENDING, 'w') as f:
        for e in events:
            f.write(json.dumps(e) + '\n')
    print(f'mailinfra: {len(events)} hard bounce(s) not recorded yet (next run retries): {printable(error)}',
          file=sys.stderr)
    return False


def record(lines):
    now = time.time()
    events = []
    for line in lines:
        m = BOUNCED.search(line)
        if not m:
            continue
        events.append({
            'recipient': m['rcpt'],
            'dsn': m['dsn'],
            'reason': printable(m['reason'], 500),
            'queue_id': m['queue'] or '',
            'at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now)),
            'ms': int(now * 1000),
        })
    suppress(events)
    return send(events)


def restore():
    """Rebuilds the access table from every event in the log group (at boot)."""
    if not SUPPRESS:
        return True
    out = aws('logs', 'filter-log-events', '--log-group-name', LOG_GROUP, '--output', 'json')
    if out.returncode != 0:
        print(f'mailinfra: the bounce list could not be read from {LOG_GROUP}: {printable(out.stderr)}',
              file=sys.stderr)
        return False
    events = []
    for e in json.loads(out.stdout or '{}').get('events', []):
        try:
            events.append(json.loads(e['message']))
        except (KeyError, ValueError):
            continue
    open(MAP, 'w').close()
    suppress(events)
    rebuild()
    return True


if __name__ == '__main__':
    mode = sys.argv[1] if len(sys.argv) > 1 else 'record'
    ok = restore() if mode == 'restore' else record(sys.stdin)
    sys.exit(0 if ok else 1)
