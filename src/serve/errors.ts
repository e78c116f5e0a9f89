// A request the server refuses with 400 and a message naming the problem (the error handler in app.ts sends it).
export class BadRequest extends Error {
  readonly statusCode = 400;
}
